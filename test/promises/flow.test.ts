/**
 * Flow promises checked through the engine (the evaluator's own unit tests are the other
 * check): fanout `all` stops its siblings when one branch fails, and the loop runs its body
 * at most `max` times.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option, Ref } from "effect"
import type { AgentDef, FlowNode } from "../../src/protocol/blueprint.js"
import type { PendingReply, SpawnFrame } from "../../src/protocol/frames.js"
import { Runs } from "../../src/services/Runs.js"
import { Worker } from "../../src/services/Worker.js"
import { blueprint, type Handler, startOperator, testLayer } from "../engine/harness.js"
import { within } from "./latch.js"

type Reply = Omit<PendingReply, "req_id">
const seats = { operators: [{ name: "lead" }] }
const lit = (value: unknown) => ({ op: "lit", value }) as const

describe("fanout all interrupts its siblings", () => {
  it.scopedLive("one blocked branch ends the run at once; the others' spawns are cancelled and no longer owed", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const spawns = yield* Ref.make<ReadonlyArray<SpawnFrame>>([])
      const allSpawned = yield* Deferred.make<void>()
      const failNow = yield* Deferred.make<void>()
      const handler: Handler = (frame) =>
        frame.type !== "spawn" ? Effect.succeedNone : Effect.gen(function*() {
          const seen = yield* Ref.updateAndGet(spawns, (s) => [...s, frame])
          if (seen.length === 3) yield* Deferred.succeed(allSpawned, undefined)
          const worker = yield* Worker
          const { prompt } = yield* worker.prompt(frame.worker_handle ?? "")
          if (prompt !== "bad") return Option.none<Reply>() // the siblings never answer
          yield* Deferred.await(failNow)
          return Option.some({ type: "spawn_ack", value: "no good", ok: false } as Reply)
        })
      const op = yield* startOperator(handler)
      const flow: FlowNode = {
        kind: "fanout",
        items: lit(["a", "bad", "c"]),
        bind: "$.item",
        join: "all",
        out: "$.joined",
        body: { kind: "step", ref: "w", in: { op: "path", at: "$.item" }, out: "$.r" }
      }
      const agents = [{ name: "w", kind: "operator", operator: "lead" } as AgentDef]
      const { run_id } = yield* runs.launch({ blueprint: blueprint(agents, flow, seats), operator_sid: op.sid })
      yield* Deferred.await(allSpawned).pipe(within("three spawns"))
      expect(yield* op.session.pending).toHaveLength(3)
      yield* Deferred.succeed(failNow, undefined)

      const run = yield* runs.awaitEnd(run_id).pipe(within("the run to end once a branch failed"))
      expect(run.status).toBe("failed")
      expect(run.error).toMatchObject({ failed_step: "w" })
      expect(run.error?.message).toContain("step w blocked")
      const sent = yield* Ref.get(spawns)
      // the stopped siblings are not left running in a finished run
      expect(run.steps.map((s) => s.status).sort()).toEqual(["blocked", "cancelled", "cancelled"])
      expect(run.steps.filter((s) => s.status === "cancelled").map((s) => s.error)).toEqual([
        "the run ended before this step finished (another branch of its fanout decided the run)",
        "the run ended before this step finished (another branch of its fanout decided the run)"
      ])
      const bad = run.steps.find((s) => s.status === "blocked")
      expect(bad).toBeDefined()
      const siblings = sent.filter((s) => s.task_id !== bad?.step_id).map((s) => s.req_id)
      expect(siblings).toHaveLength(2)
      // the operator is told to stop the siblings' work, and owes nothing any more
      const cancels = (yield* op.frames).filter((f) => f.type === "cancel")
      expect(cancels.map((c) => c.req_id).sort()).toEqual([...siblings].sort())
      expect(cancels.map((c) => "reason" in c && c.reason)).toEqual(["interrupted", "interrupted"])
      expect(yield* op.session.pending).toEqual([])
      // and their workers can no longer submit
      const worker = yield* Worker
      for (const s of sent.filter((f) => f.task_id !== bad?.step_id)) {
        const late = yield* Effect.flip(worker.submit(s.worker_handle ?? "", "too late"))
        expect(late._tag).toBe("StepGone")
      }
    }).pipe(Effect.provide(testLayer())))
})

describe("fanout any stops the losers", () => {
  it.scopedLive("the first branch to pass decides; the other's spawn is cancelled and its step recorded cancelled", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const handler: Handler = (frame) =>
        frame.type !== "spawn" ? Effect.succeedNone : Effect.gen(function*() {
          const worker = yield* Worker
          const { prompt } = yield* worker.prompt(frame.worker_handle ?? "")
          if (prompt !== "quick") return Option.none<Reply>()
          yield* worker.submit(frame.worker_handle ?? "", "first past the post")
          return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
        })
      const op = yield* startOperator(handler)
      const flow: FlowNode = {
        kind: "fanout",
        items: lit(["slow", "quick"]),
        bind: "$.item",
        join: "any",
        out: "$.winner",
        body: { kind: "step", ref: "w", in: { op: "path", at: "$.item" }, out: "$.r" }
      }
      const agents = [{ name: "w", kind: "operator", operator: "lead" } as AgentDef]
      const { run_id } = yield* runs.launch({ blueprint: blueprint(agents, flow, seats), operator_sid: op.sid })
      const run = yield* runs.awaitEnd(run_id).pipe(within("the run to end once a branch passed"))
      expect(run.status).toBe("done")
      expect(run.result).toMatchObject({ winner: { item: "quick", r: "first past the post" } })
      expect(run.steps.map((s) => s.status).sort()).toEqual(["cancelled", "passed"])
      const slow = (yield* op.frames).filter((f): f is SpawnFrame => f.type === "spawn")
        .find((f) => f.task_id === run.steps.find((s) => s.status === "cancelled")?.step_id)
      expect((yield* op.frames).filter((f) => f.type === "cancel")).toEqual([
        { type: "cancel", req_id: slow?.req_id, reason: "interrupted" }
      ])
      expect(yield* op.session.pending).toEqual([])
    }).pipe(Effect.provide(testLayer())))
})

describe("the loop bound", () => {
  const counting = (max: number, cond: unknown = lit(true)): FlowNode =>
    ({
      kind: "loop",
      counter: "$.i",
      cond,
      max,
      body: { kind: "step", ref: "count", in: { op: "path", at: "$.i" }, out: "$.last" }
    }) as FlowNode
  const agents = [{ name: "count", kind: "builtin", fn: "identity" } as AgentDef]

  it.each([0, 1, 3])("an always-true loop with max %i dispatches its body exactly max times", (max) =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const { run_id } = yield* runs.launch({ blueprint: blueprint(agents, counting(max)), input: {} })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      expect(run.steps.map((s) => [s.attempt, s.value])).toEqual(Array.from({ length: max }, (_, k) => [k + 1, k]))
      expect(run.result).toEqual(max === 0 ? { i: 0 } : { i: max, last: max - 1 })
    }).pipe(Effect.provide(testLayer()), Effect.scoped, Effect.runPromise))

  it.scoped("the condition still stops the loop before the bound", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const cond = { op: "lt", lhs: { op: "path", at: "$.i" }, rhs: lit(2) }
      const { run_id } = yield* runs.launch({ blueprint: blueprint(agents, counting(5, cond)), input: {} })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.steps).toHaveLength(2)
      expect(run.result).toEqual({ i: 2, last: 1 })
    }).pipe(Effect.provide(testLayer())))
})
