/**
 * The flow interpreter (docs/blueprints.md, "Flow"). Pure apart from `dispatch`: the context
 * is an immutable JSON value threaded through the nodes, so `try` restores it for free and
 * fanout branches each get their own copy.
 *
 * Decisions where the spec is silent:
 * - The loop counter is kept by the interpreter and written to `counter` before every
 *   check; what `body` writes there is overwritten (so a body cannot make a loop endless).
 *   `loop.cond` uses truthiness; `branch.cond` must be a boolean.
 * - Fanout `any` and `race` with no items fail; `all` and `all_settled` give `[]`.
 * - Fanout `any` where every branch fails reports the last failure to arrive.
 * - A step failure's message is prefixed with the step's location; `failedStep` is its ref.
 * - Interruption and defects are never caught by `try` nor turned into `rejected`.
 */
import { Cause, Data, Effect, Either, Option } from "effect"
import type { Expr, FanoutNode, FlowNode, StepNode } from "../../protocol/blueprint.js"
import { childLocation, flowLocation, partLocation } from "../../protocol/location.js"
import { evalExpr, truthy } from "./expressions.js"
import { typeName, writePath } from "./paths.js"

export class FlowError extends Data.TaggedError("FlowError")<{
  readonly message: string
  readonly failedStep?: string
  readonly stepValue?: unknown
}> {}

/** A step that ended badly (blocked/failed); the interpreter turns it into a FlowError with failedStep = ref. */
export class StepFailure extends Data.TaggedError("StepFailure")<{
  readonly message: string
  readonly ref: string
  readonly stepValue?: unknown
}> {}

/** Where a step sits, for the engine's step records (the same ref can run many times). */
export interface StepMeta {
  /** JSON path of the node in the blueprint, e.g. `$.flow.children[2].body`. */
  readonly location: string
}

/** Runs one step. The third argument is optional to use. */
export type Dispatch<R> = (step: StepNode, input: unknown, meta: StepMeta) => Effect.Effect<unknown, StepFailure, R>

/** Result shape of a fanout with `join: "all_settled"`. */
export type Settled =
  | { readonly status: "fulfilled"; readonly value: unknown }
  | { readonly status: "rejected"; readonly reason: string }

const rootLocation = flowLocation

const where = (node: FlowNode, loc: string) => `${node.kind} at ${loc}`

const evaluate = (node: FlowNode, ctx: unknown, loc: string, field: string, expr: Expr) =>
  Either.match(evalExpr(expr, ctx), {
    onLeft: (e): Effect.Effect<unknown, FlowError> =>
      Effect.fail(new FlowError({ message: `${where(node, loc)}: ${field}: ${e.message}` })),
    onRight: (v): Effect.Effect<unknown, FlowError> => Effect.succeed(v)
  })

const write = (node: FlowNode, ctx: unknown, loc: string, field: string, path: string, value: unknown) =>
  Either.match(writePath(ctx, path, value), {
    onLeft: (e): Effect.Effect<unknown, FlowError> =>
      Effect.fail(new FlowError({ message: `${where(node, loc)}: ${field}: ${e.message}` })),
    onRight: (v): Effect.Effect<unknown, FlowError> => Effect.succeed(v)
  })

const run = <R>(node: FlowNode, ctx: unknown, loc: string, dispatch: Dispatch<R>): Effect.Effect<unknown, FlowError, R> =>
  Effect.suspend(() => {
    switch (node.kind) {
      case "step": {
        // the hot path of every flow: plain effects, no generator
        const input = evalExpr(node.in, ctx)
        if (Either.isLeft(input)) return Effect.fail(new FlowError({ message: `${where(node, loc)}: in: ${input.left.message}` }))
        return dispatch(node, input.right, { location: loc }).pipe(
          Effect.catchTag("StepFailure", (f) => {
            // Stryker disable next-line ConditionalExpression: `false` adds a field holding undefined, which the run's error leaves out
            const fields = f.stepValue === undefined ? {} : { stepValue: f.stepValue }
            return Effect.fail(
              new FlowError({ message: `step ${f.ref} at ${loc}: ${f.message}`, failedStep: f.ref, ...fields })
            )
          }),
          Effect.flatMap((value) => write(node, ctx, loc, "out", node.out, value))
        )
      }
      case "seq":
        return Effect.reduce(node.children, ctx, (acc, child, i) => run(child, acc, childLocation(loc, i), dispatch))
      case "branch":
        return Effect.gen(function*() {
          const cond = yield* evaluate(node, ctx, loc, "cond", node.cond)
          if (typeof cond !== "boolean") {
            return yield* new FlowError({ message: `${where(node, loc)}: cond must be a boolean, got ${typeName(cond)}` })
          }
          if (cond) return yield* run(node.then, ctx, partLocation(loc, "then"), dispatch)
          if (node.else === undefined) return ctx
          return yield* run(node.else, ctx, partLocation(loc, "else"), dispatch)
        })
      case "loop":
        return Effect.gen(function*() {
          let current = yield* write(node, ctx, loc, "counter", node.counter, 0)
          for (let counter = 0; counter < node.max;) {
            const cond = yield* evaluate(node, current, loc, "cond", node.cond)
            if (!truthy(cond)) break
            current = yield* run(node.body, current, partLocation(loc, "body"), dispatch)
            counter += 1
            current = yield* write(node, current, loc, "counter", node.counter, counter)
          }
          return current
        })
      case "fanout":
        return runFanout(node, ctx, loc, dispatch)
      case "try":
        return run(node.body, ctx, partLocation(loc, "body"), dispatch).pipe(
          // catchAll sees failures only: interruption and defects pass through.
          Effect.catchAll((error) =>
            Effect.flatMap(
              node.err_at === undefined
                ? Effect.succeed(ctx)
                : write(node, ctx, loc, "err_at", node.err_at, error.message),
              (restored) => run(node.catch, restored, partLocation(loc, "catch"), dispatch)
            )
          )
        )
      case "assign":
        return Effect.flatMap(
          evaluate(node, ctx, loc, "value", node.value),
          (value) => write(node, ctx, loc, "at", node.at, value)
        )
    }
  })

/**
 * Siblings the fanout interrupts itself show up next to the failure in the cause; keep the
 * failure alone so a caller looking for interruption (cancellation) is not misled.
 */
const failureOnly = <A, R>(self: Effect.Effect<A, FlowError, R>): Effect.Effect<A, FlowError, R> =>
  Effect.catchAllCause(self, (cause) =>
    Cause.isDie(cause)
      ? Effect.failCause(cause)
      : Option.match(Cause.failureOption(cause), { onNone: () => Effect.failCause(cause), onSome: Effect.fail }))

const runFanout = <R>(
  node: FanoutNode,
  ctx: unknown,
  loc: string,
  dispatch: Dispatch<R>
): Effect.Effect<unknown, FlowError, R> =>
  Effect.gen(function*() {
    const items = yield* evaluate(node, ctx, loc, "items", node.items)
    if (!Array.isArray(items)) {
      return yield* new FlowError({ message: `${where(node, loc)}: items must be an array, got ${typeName(items)}` })
    }
    const branch = (item: unknown) =>
      Effect.flatMap(
        write(node, ctx, loc, "bind", node.bind, item),
        (own) => run(node.body, own, partLocation(loc, "body"), dispatch)
      )
    const needsOne = () =>
      new FlowError({ message: `${where(node, loc)}: join ${node.join} needs at least one item, items is empty` })
    let joined: unknown
    switch (node.join) {
      case "all":
        // On the first failure forEach interrupts the other branches.
        joined = yield* failureOnly(Effect.forEach(items, branch, { concurrency: "unbounded" }))
        break
      case "all_settled":
        joined = yield* Effect.forEach(
          items,
          (item) =>
            Effect.map(Effect.either(branch(item)), (r): Settled =>
              Either.isRight(r)
                ? { status: "fulfilled", value: r.right }
                : { status: "rejected", reason: r.left.message }),
          { concurrency: "unbounded" }
        )
        break
      case "any":
        if (items.length === 0) return yield* needsOne()
        // raceAll: the first success wins and the rest are interrupted; fails only if all fail.
        joined = yield* failureOnly(Effect.raceAll(items.map(branch))).pipe(
          Effect.mapError((last) =>
            new FlowError({
              message: `${where(node, loc)}: every branch failed (join any); last: ${last.message}`,
              // Stryker disable next-line ConditionalExpression: a field holding undefined, which the run's error leaves out
              ...(last.failedStep === undefined ? {} : { failedStep: last.failedStep }),
              // Stryker disable next-line ConditionalExpression: as above
              ...(last.stepValue === undefined ? {} : { stepValue: last.stepValue })
            })
          )
        )
        break
      case "race": {
        if (items.length === 0) return yield* needsOne()
        // Either turns a failure into a finish, so the first branch to end wins whatever its outcome.
        const first = yield* Effect.raceAll(items.map((item) => Effect.either(branch(item))))
        joined = yield* first
        break
      }
    }
    return yield* write(node, ctx, loc, "out", node.out, joined)
  })

/** Runs a flow from the run's input; the result is the final context. */
export const evaluateFlow = <R>(
  flow: FlowNode,
  input: unknown,
  dispatch: Dispatch<R>
): Effect.Effect<unknown, FlowError, R> => run(flow, input, rootLocation, dispatch)
