import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Ref, TestClock } from "effect"
import { readFileSync } from "node:fs"
import type { Expr, FlowNode, StepNode } from "../../src/protocol/blueprint.js"
import { type Dispatch, evaluateFlow, FlowError, StepFailure } from "../../src/services/flow/evaluate.js"
import { validateBlueprint } from "../../src/services/flow/validate.js"

const lit = (value: unknown): Expr => ({ op: "lit", value })
const path = (at: string): Expr => ({ op: "path", at })
const step = (ref: string, inExpr: Expr, out: string): StepNode => ({ kind: "step", ref, in: inExpr, out })
const assign = (at: string, value: Expr): FlowNode => ({ kind: "assign", at, value })
const seq = (...children: Array<FlowNode>): FlowNode => ({ kind: "seq", children })

/** identity returns its input, fail blocks with its input as the value. */
const basic: Dispatch<never> = (s, input) =>
  s.ref === "fail"
    ? Effect.fail(new StepFailure({ message: "worker reported ok=false", ref: s.ref, stepValue: input }))
    : Effect.succeed(input)

const flowError = (exit: Exit.Exit<unknown, FlowError>): FlowError => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a FlowError, got ${JSON.stringify(exit.value)}`)
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a plain failure, got ${exit.cause._tag}`)
  return failure
}

describe("evaluateFlow: node kinds", () => {
  it.effect("step: evaluates in, dispatches with its location, writes out", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const dispatch: Dispatch<never> = (s, input, meta) => {
        seen.push([s.ref, input, meta.location])
        return Effect.succeed({ echoed: input })
      }
      const out = yield* evaluateFlow(step("echo", path("$.req"), "$.res.value"), { req: "hi" }, dispatch)
      expect(out).toEqual({ req: "hi", res: { value: { echoed: "hi" } } })
      expect(seen).toEqual([["echo", "hi", "$.flow"]])
    }))

  it.effect("step failure becomes a FlowError with failedStep and stepValue", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(evaluateFlow(seq(step("fail", lit({ why: "no" }), "$.x")), {}, basic))
      const e = flowError(exit)
      expect(e.failedStep).toBe("fail")
      expect(e.stepValue).toEqual({ why: "no" })
      expect(e.message).toContain("$.flow.children[0]")
      expect(e.message).toContain("worker reported ok=false")
    }))

  it.effect("seq runs in order and the first error stops it", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const dispatch: Dispatch<never> = (s, input, meta) => {
        ran.push(meta.location)
        return basic(s, input, meta)
      }
      const ok = yield* evaluateFlow(seq(step("a", lit(1), "$.a"), step("b", path("$.a"), "$.b")), {}, dispatch)
      expect(ok).toEqual({ a: 1, b: 1 })
      ran.length = 0
      const exit = yield* Effect.exit(
        evaluateFlow(seq(step("a", lit(1), "$.a"), step("fail", lit(2), "$.b"), step("c", lit(3), "$.c")), {}, dispatch)
      )
      expect(flowError(exit).failedStep).toBe("fail")
      expect(ran).toEqual(["$.flow.children[0]", "$.flow.children[1]"])
    }))

  it.effect("branch takes then or else; a missing else leaves the context alone", () =>
    Effect.gen(function*() {
      const node = (cond: Expr, withElse = true): FlowNode => ({
        kind: "branch",
        cond,
        then: assign("$.took", lit("then")),
        ...(withElse ? { else: assign("$.took", lit("else")) } : {})
      })
      expect(yield* evaluateFlow(node(path("$.flag")), { flag: true }, basic)).toEqual({ flag: true, took: "then" })
      expect(yield* evaluateFlow(node(path("$.flag")), { flag: false }, basic)).toEqual({ flag: false, took: "else" })
      expect(yield* evaluateFlow(node(lit(false), false), { k: 1 }, basic)).toEqual({ k: 1 })
    }))

  it.effect("branch with a non-boolean cond fails naming the node", () =>
    Effect.gen(function*() {
      const flow = seq(assign("$.x", lit(1)), { kind: "branch", cond: lit("yes"), then: seq() })
      const e = flowError(yield* Effect.exit(evaluateFlow(flow, {}, basic)))
      expect(e.message).toBe("branch at $.flow.children[1]: cond must be a boolean, got string")
      // Truthy non-booleans are refused too: only real booleans are conditions.
      const e2 = flowError(yield* Effect.exit(evaluateFlow({ kind: "branch", cond: lit(1), then: seq() }, {}, basic)))
      expect(e2.message).toContain("got number")
    }))

  it.effect("loop: counter from 0, stops at max or when cond is falsy", () =>
    Effect.gen(function*() {
      const body = assign("$.n", { op: "add", lhs: path("$.n"), rhs: lit(10) })
      const loop = (max: number, cond: Expr): FlowNode => ({ kind: "loop", counter: "$.i", cond, body, max })
      expect(yield* evaluateFlow(loop(3, lit(true)), { n: 0 }, basic)).toEqual({ n: 30, i: 3 })
      expect(yield* evaluateFlow(loop(0, lit(true)), { n: 0 }, basic)).toEqual({ n: 0, i: 0 })
      const lt20: Expr = { op: "lt", lhs: path("$.n"), rhs: lit(20) }
      expect(yield* evaluateFlow(loop(9, lt20), { n: 0 }, basic)).toEqual({ n: 20, i: 2 })
      // Truthiness, not booleans: 0 and "" keep the loop going, null stops it.
      expect(yield* evaluateFlow(loop(2, lit(0)), { n: 0 }, basic)).toEqual({ n: 20, i: 2 })
      expect(yield* evaluateFlow(loop(2, lit(null)), { n: 0 }, basic)).toEqual({ n: 0, i: 0 })
      // The body reads the counter; what it writes there does not extend the loop.
      const reset: FlowNode = {
        kind: "loop",
        counter: "$.i",
        cond: lit(true),
        max: 3,
        body: seq(assign("$.seen", { op: "add", lhs: path("$.seen"), rhs: path("$.i") }), assign("$.i", lit(0)))
      }
      expect(yield* evaluateFlow(reset, { seen: 0 }, basic)).toEqual({ seen: 3, i: 3 })
    }))

  it.effect("try: restores the context, writes the message at err_at, runs catch", () =>
    Effect.gen(function*() {
      const flow: FlowNode = {
        kind: "try",
        body: seq(assign("$.partial", lit(true)), step("fail", lit(0), "$.never")),
        catch: assign("$.recovered", path("$.error")),
        err_at: "$.error"
      }
      const out = (yield* evaluateFlow(flow, { keep: 1 }, basic)) as Record<string, unknown>
      expect(Object.keys(out).sort()).toEqual(["error", "keep", "recovered"])
      expect(out.error).toContain("worker reported ok=false")
      expect(out.recovered).toBe(out.error)
      // Without err_at the catch sees the context as it was before the body.
      const plain: FlowNode = { kind: "try", body: seq(assign("$.p", lit(1)), step("fail", lit(0), "$.x")), catch: seq() }
      expect(yield* evaluateFlow(plain, { keep: 1 }, basic)).toEqual({ keep: 1 })
      // A body that succeeds skips catch.
      const fine: FlowNode = { kind: "try", body: assign("$.ok", lit(true)), catch: assign("$.caught", lit(true)) }
      expect(yield* evaluateFlow(fine, {}, basic)).toEqual({ ok: true })
    }))

  it.effect("try does not catch interruption", () =>
    Effect.gen(function*() {
      const caught = yield* Ref.make(false)
      const dispatch: Dispatch<never> = () => Effect.interrupt
      const flow: FlowNode = {
        kind: "try",
        body: step("x", lit(0), "$.x"),
        catch: assign("$.caught", lit(true))
      }
      const exit = yield* Effect.exit(
        evaluateFlow(flow, {}, (s, i, m) => s.ref === "x" ? dispatch(s, i, m) : Ref.set(caught, true))
      )
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(caught)).toBe(false)
    }))

  it.effect("assign writes a value; the result is the final context", () =>
    Effect.gen(function*() {
      const flow = seq(
        assign("$.a.b", lit(1)),
        assign("$.c", { op: "obj", fields: { b: path("$.a.b"), two: { op: "mul", lhs: path("$.a.b"), rhs: lit(2) } } })
      )
      expect(yield* evaluateFlow(flow, { start: true }, basic)).toEqual({ start: true, a: { b: 1 }, c: { b: 1, two: 2 } })
    }))

  it.effect("reading a missing path fails naming the node and the path", () =>
    Effect.gen(function*() {
      const e = flowError(yield* Effect.exit(evaluateFlow(seq(step("a", path("$.plan"), "$.x")), {}, basic)))
      expect(e.message).toBe("step at $.flow.children[0]: in: cannot read $.plan: missing field \"plan\"")
      expect(e.failedStep).toBeUndefined()
    }))

  it.effect("writing through a non-object fails naming the node and the path", () =>
    Effect.gen(function*() {
      const e = flowError(yield* Effect.exit(evaluateFlow(seq(assign("$.s.x", lit(1))), { s: "text" }, basic)))
      expect(e.message).toBe("assign at $.flow.children[0]: at: cannot write $.s.x: $.s is string, not an object")
    }))
})

/** A fanout over items; the body runs step `ref` on the bound item and writes `$.r`. */
const fanout = (join: "all" | "any" | "race" | "all_settled", items: Expr, ref = "work"): FlowNode => ({
  kind: "fanout",
  items,
  bind: "$.item",
  body: step(ref, path("$.item"), "$.r"),
  join,
  out: "$.joined"
})

describe("evaluateFlow: fanout", () => {
  it.effect("items must be an array, else the flow fails naming the node", () =>
    Effect.gen(function*() {
      const e = flowError(yield* Effect.exit(evaluateFlow(seq(fanout("all", lit({ a: 1 }))), {}, basic)))
      expect(e.message).toBe("fanout at $.flow.children[0]: items must be an array, got object")
    }))

  it.effect("all: branch contexts in item order, each on its own copy", () =>
    Effect.gen(function*() {
      // Later items finish first, so the order of the result is the order of the items.
      const dispatch: Dispatch<never> = (_s, input) => Effect.as(Effect.sleep(`${10 - (input as number)} millis`), input)
      const fiber = yield* Effect.fork(evaluateFlow(fanout("all", path("$.xs")), { xs: [1, 2, 3] }, dispatch))
      yield* TestClock.adjust("20 millis")
      const out = yield* Fiber.join(fiber)
      expect(out).toEqual({
        xs: [1, 2, 3],
        joined: [1, 2, 3].map((n) => ({ xs: [1, 2, 3], item: n, r: n }))
      })
      expect(yield* evaluateFlow(fanout("all", lit([])), {}, basic)).toEqual({ joined: [] })
    }))

  for (const join of ["all", "all_settled"] as const) {
    it.live(`${join}: branches run concurrently: two branches that each wait for the other finish`, () =>
      Effect.gen(function*() {
        const a = yield* Deferred.make<void>()
        const b = yield* Deferred.make<void>()
        // Run one after the other, "a" would wait for b forever.
        const dispatch: Dispatch<never> = (_s, input) =>
          input === "a"
            ? Effect.zipRight(Deferred.succeed(b, undefined), Effect.as(Deferred.await(a), "a done"))
            : Effect.zipRight(Deferred.succeed(a, undefined), Effect.as(Deferred.await(b), "b done"))
        const out = yield* evaluateFlow(fanout(join, lit(["a", "b"])), {}, dispatch).pipe(
          Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("fanout did not run concurrently") })
        )
        const joined = (out as { joined: Array<{ r?: string; value?: { r: string } }> }).joined
        expect(joined.map((c) => c.r ?? c.value?.r)).toEqual(["a done", "b done"])
      }))
  }

  it.effect("all: a failing branch fails the fanout and interrupts the others", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const started = yield* Deferred.make<void>()
      const dispatch: Dispatch<never> = (s, input) =>
        input === "slow"
          ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Ref.set(interrupted, true))
          )
          : Effect.zipRight(
            Deferred.await(started),
            Effect.fail(new StepFailure({ message: "boom", ref: s.ref, stepValue: input }))
          )
      const e = flowError(yield* Effect.exit(evaluateFlow(fanout("all", lit(["slow", "bad"])), {}, dispatch)))
      expect(e.failedStep).toBe("work")
      expect(e.stepValue).toBe("bad")
      expect(e.message).toContain("boom")
      expect(yield* Ref.get(interrupted)).toBe(true)
    }))

  it.effect("any: the first branch to succeed wins, failures are skipped, losers are interrupted", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make<Array<unknown>>([])
      const dispatch: Dispatch<never> = (s, input) => {
        const n = input as number
        if (n < 0) return Effect.fail(new StepFailure({ message: `bad ${n}`, ref: s.ref }))
        return Effect.as(Effect.sleep(`${n} millis`), n).pipe(
          Effect.onInterrupt(() => Ref.update(interrupted, (xs) => [...xs, n]))
        )
      }
      const fiber = yield* Effect.fork(evaluateFlow(fanout("any", lit([30, -1, 10, 20])), {}, dispatch))
      yield* TestClock.adjust("50 millis")
      const out = yield* Fiber.join(fiber)
      expect(out).toEqual({ joined: { item: 10, r: 10 } })
      expect([...(yield* Ref.get(interrupted))].sort()).toEqual([20, 30])
    }))

  it.effect("any: when every branch fails, the fanout fails", () =>
    Effect.gen(function*() {
      const e = flowError(yield* Effect.exit(evaluateFlow(fanout("any", lit([1, 2]), "fail"), {}, basic)))
      expect(e.message).toContain("fanout at $.flow: every branch failed (join any)")
      expect(e.failedStep).toBe("fail")
      // the last failure's value is kept, like a single step's
      expect([1, 2]).toContain(e.stepValue)
      const empty = flowError(yield* Effect.exit(evaluateFlow(fanout("any", lit([])), {}, basic)))
      expect(empty.message).toContain("needs at least one item")
      const emptyRace = flowError(yield* Effect.exit(evaluateFlow(fanout("race", lit([])), {}, basic)))
      expect(emptyRace.message).toBe("fanout at $.flow: join race needs at least one item, items is empty")
    }))

  it.effect("race: the first branch to finish wins, even when it fails; losers are interrupted", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(0)
      const dispatch: Dispatch<never> = (s, input) => {
        const n = input as number
        const done = n < 0
          ? Effect.fail(new StepFailure({ message: `bad ${n}`, ref: s.ref }))
          : Effect.succeed(n)
        return Effect.zipRight(Effect.sleep(`${Math.abs(n)} millis`), done).pipe(
          Effect.onInterrupt(() => Ref.update(interrupted, (k) => k + 1))
        )
      }
      const winOk = yield* Effect.fork(evaluateFlow(fanout("race", lit([30, 10, -20])), {}, dispatch))
      yield* TestClock.adjust("50 millis")
      expect(yield* Fiber.join(winOk)).toEqual({ joined: { item: 10, r: 10 } })
      expect(yield* Ref.get(interrupted)).toBe(2)

      const winFail = yield* Effect.fork(evaluateFlow(fanout("race", lit([30, -5, 10])), {}, dispatch))
      yield* TestClock.adjust("50 millis")
      const e = flowError(yield* Fiber.await(winFail))
      expect(e.message).toContain("bad -5")
      expect(yield* Ref.get(interrupted)).toBe(4)
    }))

  it.effect("all_settled: every outcome, in item order", () =>
    Effect.gen(function*() {
      const out = yield* evaluateFlow(fanout("all_settled", path("$.xs"), "identity"), { xs: [1, 2] }, basic)
      expect((out as { joined: unknown }).joined).toEqual([
        { status: "fulfilled", value: { xs: [1, 2], item: 1, r: 1 } },
        { status: "fulfilled", value: { xs: [1, 2], item: 2, r: 2 } }
      ])
      const mixed = yield* evaluateFlow(
        {
          kind: "fanout",
          items: lit(["identity", "fail"]),
          bind: "$.which",
          join: "all_settled",
          out: "$.joined",
          body: {
            kind: "branch",
            cond: { op: "eq", lhs: path("$.which"), rhs: lit("fail") },
            then: step("fail", lit("v"), "$.r"),
            else: step("identity", lit("v"), "$.r")
          }
        },
        {},
        basic
      )
      const joined = (mixed as { joined: Array<Record<string, unknown>> }).joined
      expect(joined[0]).toEqual({ status: "fulfilled", value: { which: "identity", r: "v" } })
      expect(joined[1]!.status).toBe("rejected")
      expect(joined[1]!.reason).toContain("worker reported ok=false")
      expect(yield* evaluateFlow(fanout("all_settled", lit([])), {}, basic)).toEqual({ joined: [] })
    }))
})

describe("evaluateFlow: the example blueprint of blueprint.md", () => {
  it.effect("plans, loops until the reviewer approves, and stamps the patch", () =>
    Effect.gen(function*() {
      const doc = JSON.parse(readFileSync(new URL("./example-blueprint.json", import.meta.url), "utf8"))
      const bp = Either.getOrThrow(validateBlueprint(doc))
      let reviews = 0
      const calls: Array<string> = []
      const dispatch: Dispatch<never> = (s, input) => {
        calls.push(s.ref)
        switch (s.ref) {
          case "planner":
            return Effect.succeed(`plan for ${(input as { request: string }).request}`)
          case "coder":
            return Effect.succeed(`patch #${reviews + 1}`)
          case "reviewer":
            return Effect.succeed(++reviews < 2 ? "REVISE" : "APPROVE")
          default:
            return Effect.succeed(input)
        }
      }
      const out = yield* evaluateFlow(bp.flow, bp.default_input, dispatch)
      expect(out).toEqual({
        request: "add a --dry-run flag",
        plan: "plan for add a --dry-run flag",
        review: "APPROVE",
        round: 2,
        patch: "patch #2",
        final: "patch #2"
      })
      expect(calls).toEqual(["planner", "coder", "reviewer", "coder", "reviewer", "stamp"])
    }))
})

describe("evaluateFlow: an error names the node and the field it came from", () => {
  const ctx = { s: "str", c: {} }
  const cases: ReadonlyArray<readonly [string, FlowNode]> = [
    ["step at $.flow: out: ", step("id", path("$"), "$.s.x")],
    ["branch at $.flow: cond: ", { kind: "branch", cond: path("$.nope"), then: assign("$.y", lit(1)) } as FlowNode],
    ["loop at $.flow: counter: ", { kind: "loop", counter: "$.s.i", cond: lit(true), max: 1, body: assign("$.y", lit(1)) } as FlowNode],
    ["loop at $.flow: cond: ", { kind: "loop", counter: "$.i", cond: path("$.nope"), max: 1, body: assign("$.y", lit(1)) } as FlowNode],
    ["loop at $.flow: counter: ", { kind: "loop", counter: "$.c.i", cond: lit(true), max: 1, body: assign("$.c", lit("x")) } as FlowNode],
    ["try at $.flow: err_at: ", { kind: "try", body: step("fail", lit(1), "$.y"), catch: assign("$.y", lit(1)), err_at: "$.s.x" } as FlowNode],
    ["assign at $.flow: value: ", assign("$.y", path("$.nope"))],
    ["fanout at $.flow: items: ", { kind: "fanout", items: path("$.nope"), bind: "$.i", join: "all", out: "$.o", body: assign("$.y", lit(1)) } as FlowNode],
    ["fanout at $.flow: bind: ", { kind: "fanout", items: lit([1]), bind: "$.s.x", join: "all", out: "$.o", body: assign("$.y", lit(1)) } as FlowNode],
    ["fanout at $.flow: out: ", { kind: "fanout", items: lit([1]), bind: "$.i", join: "all", out: "$.s.x", body: assign("$.y", lit(1)) } as FlowNode]
  ]
  for (const [prefix, flow] of cases) {
    it.effect(`${prefix}…`, () =>
      Effect.gen(function*() {
        const e = flowError(yield* Effect.exit(evaluateFlow(flow, ctx, basic)))
        expect(e.message.startsWith(prefix), e.message).toBe(true)
      }))
  }
})
