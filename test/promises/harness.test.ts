/**
 * The engine test harness must not swallow a failed expectation inside a scripted operator:
 * the test fails at once with that message, instead of waiting for a reply that never comes.
 * Each case runs a small test body on its own fiber and inspects how it ended.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import { Runs } from "../../src/services/Runs.js"
import { blueprint, defaultHandler, type Handler, startOperator, step, testLayer } from "../engine/harness.js"
import { within } from "./latch.js"

const seats = { operators: [{ name: "lead" }] }
const agents: Array<AgentDef> = [{ name: "planner", kind: "operator", operator: "lead" } as AgentDef]

/** A test body: one operator step handled by `handler`, awaiting the run's end. */
const body = (handler: Handler, middleware: Array<string> = []) =>
  Effect.gen(function*() {
    const runs = yield* Runs
    const op = yield* startOperator(handler)
    const { run_id } = yield* runs.launch({
      blueprint: blueprint(agents, step("planner", "$", "$.plan"), { ...seats, middleware }),
      operator_sid: op.sid
    })
    return yield* runs.awaitEnd(run_id)
  }).pipe(Effect.scoped, Effect.provide(testLayer()))

const firstError = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "the test body succeeded"
  const errors = Cause.prettyErrors(exit.cause)
  return errors[0]?.message ?? "no error in the cause"
}

describe("the engine harness reports a failing scripted operator", () => {
  it.live("a failed expect in a handler the test is waiting on fails the test at once with its message", () =>
    Effect.gen(function*() {
      const handler: Handler = (frame) =>
        Effect.sync(() => {
          expect(frame.type, "the frame the handler expects").toBe("ask")
          return Option.none()
        })
      const fiber = yield* Effect.fork(body(handler))
      const exit = yield* Fiber.await(fiber).pipe(within("the harness to report the handler's failure", 5000))
      const message = firstError(exit)
      expect(message).toMatch(/^the scripted operator failed while handling spawn S-[0-9a-f]{32}-spawn-/)
      expect(message).toContain("the frame the handler expects: expected 'spawn' to be 'ask'")
    }))

  it.live("a handler that fails after the test body is done still fails the test", () =>
    Effect.gen(function*() {
      const usual = defaultHandler(() => "planned")
      // hook_after is fire-and-forget: the run ends whatever this handler does with it
      const handler: Handler = (frame) =>
        frame.type === "hook_after" ? Effect.fail("the hook_after handler gave up") : usual(frame)
      const fiber = yield* Effect.fork(body(handler, ["main_ai"]))
      const exit = yield* Fiber.await(fiber).pipe(within("the test body to end", 5000))
      expect(firstError(exit)).toMatch(
        /^the scripted operator failed while handling hook_after S-[0-9a-f]{32}-\S+: the hook_after handler gave up$/
      )
    }))

  it.live("a handler that succeeds leaves the test body's own result", () =>
    Effect.gen(function*() {
      const exit = yield* Fiber.await(yield* Effect.fork(body(defaultHandler(() => "planned"), ["main_ai"])))
        .pipe(within("the run", 5000))
      expect(Exit.isSuccess(exit) ? exit.value.status : firstError(exit)).toBe("done")
    }))
})
