/**
 * "Input for a step that has finished (or been sealed by the engine) is refused and changes
 * nothing" and "a submit either lands before the engine reads the step's result or is refused
 * with 410" — checked while the run is still running, so the run-level check cannot hide a
 * missing step-level one. Black-box: the Worker verbs and the engine, with storage writes
 * held by a latch where an interleaving must be forced.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Option, Ref } from "effect"
import type { AgentDef, FlowNode } from "../../src/protocol/blueprint.js"
import type { PendingReply, ServerFrame, SpawnFrame } from "../../src/protocol/frames.js"
import type { StepRecord } from "../../src/services/repos/StepRepo.js"
import { Runs } from "../../src/services/Runs.js"
import { Worker } from "../../src/services/Worker.js"
import { ack, blueprint, type Handler, seq, startOperator, step, subAgent } from "../engine/harness.js"
import { EventWrites, type Held, latchedEngine, parkedOrDone, StepWrites, within } from "./latch.js"

type Reply = Omit<PendingReply, "req_id">
const operatorAgent = (name: string): AgentDef => ({ name, kind: "operator", operator: "lead" }) as AgentDef
const seats = { operators: [{ name: "lead" }] }
const none = Effect.succeed(Option.none<Reply>())

/** Every input verb of the worker, with one credential, each expected to be refused with `message`. */
const expectAllRefused = (credential: string, message: string) =>
  Effect.gen(function*() {
    const worker = yield* Worker
    const attempts = {
      submit: worker.submit(credential, "late"),
      result: worker.result(credential, { value: "late", ok: true }),
      artifact: worker.artifact(credential, "notes", "late"),
      emit: worker.emit(credential, "late-output", new TextEncoder().encode("late")),
      prompt: worker.prompt(credential)
    }
    for (const [verb, attempt] of Object.entries(attempts)) {
      const outcome = yield* Effect.either(attempt as Effect.Effect<unknown, { _tag: string; message: string }>)
      const seen = Either.isLeft(outcome)
        ? { verb, tag: outcome.left._tag, message: outcome.left.message }
        : { verb, accepted: outcome.right }
      expect(seen).toEqual({ verb, tag: "StepGone", message })
    }
  })

describe("a finished step of a running run takes no more input", () => {
  it.scopedLive("late submit, result, artifact, emit and prompt for step 1 while step 2 runs are refused; nothing changes", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const secondSpawned = yield* Deferred.make<SpawnFrame>()
      const releaseSecond = yield* Deferred.make<void>()
      const handler: Handler = (frame) => {
        if (frame.type !== "spawn") return none
        return frame.agent === "first"
          ? subAgent(frame, () => "a-result").pipe(Effect.zipRight(ack()))
          : Deferred.succeed(secondSpawned, frame).pipe(
            Effect.zipRight(Deferred.await(releaseSecond)),
            Effect.zipRight(subAgent(frame, () => "b-result")),
            Effect.zipRight(ack())
          )
      }
      const op = yield* startOperator(handler)
      const flow: FlowNode = seq(step("first", "$", "$.a"), step("second", "$.a", "$.b"))
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("first"), operatorAgent("second")], flow, seats),
        operator_sid: op.sid
      })
      yield* Deferred.await(secondSpawned).pipe(within("the second step's spawn"))
      const first = (yield* op.frames).find((f): f is SpawnFrame => f.type === "spawn" && f.agent === "first")
      if (first === undefined) return expect.unreachable("the first step was never spawned")
      const during = yield* runs.get(run_id)
      expect(during.status).toBe("running")
      expect(during.steps.map((s) => [s.ref, s.status])).toEqual([["first", "passed"], ["second", "running"]])

      const message = `step ${first.task_id} takes no more input: it has finished (passed)`
      yield* expectAllRefused(first.worker_handle ?? "", message)
      yield* expectAllRefused(first.capability_token, message)
      // nothing of it was stored: no output under that name, step 1 unchanged
      const output = yield* Effect.flip(worker.getData({ _tag: "operator" }, "late-output"))
      expect(output._tag).toBe("OutputNotFound")
      expect((yield* runs.get(run_id)).steps[0]).toEqual(during.steps[0])

      yield* Deferred.succeed(releaseSecond, undefined)
      const run = yield* runs.awaitEnd(run_id).pipe(within("the run's end"))
      expect(run.status).toBe("done")
      expect(run.result).toEqual({ a: "a-result", b: "b-result" })
      expect(run.steps[0]?.value).toBe("a-result")
    }).pipe(Effect.provide(latchedEngine)))
})

describe("a step the engine has read takes no more input while it is still running", () => {
  it.scopedLive("a submit during the senior_escalation ask is refused; the escalation's outcome stands", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const asked = yield* Deferred.make<ServerFrame>()
      const answerNow = yield* Deferred.make<void>()
      const spawned = yield* Deferred.make<SpawnFrame>()
      const handler: Handler = (frame) => {
        switch (frame.type) {
          case "spawn":
            return Effect.gen(function*() {
              yield* Deferred.succeed(spawned, frame)
              const worker = yield* Worker
              yield* worker.result(frame.worker_handle ?? "", { value: "stuck", ok: false })
              return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
            })
          case "ask":
            return Deferred.succeed(asked, frame).pipe(
              Effect.zipRight(Deferred.await(answerNow)),
              Effect.as(Option.some({ type: "answer", value: "rescued" } as Reply))
            )
          default:
            return none
        }
      }
      const op = yield* startOperator(handler)
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("fixer")], step("fixer", "$", "$.fix"), {
          ...seats,
          middleware: ["senior_escalation"]
        }),
        operator_sid: op.sid
      })
      const ask = yield* Deferred.await(asked).pipe(within("the escalation ask"))
      const spawn = yield* Deferred.await(spawned)
      expect(ask).toMatchObject({ type: "ask", task_id: spawn.task_id })
      const during = yield* runs.get(run_id)
      expect(during.status).toBe("running")
      expect(during.steps.map((s) => s.status)).toEqual(["running"])

      yield* expectAllRefused(
        spawn.worker_handle ?? "",
        `step ${spawn.task_id} takes no more input: its result has already been taken`
      )

      yield* Deferred.succeed(answerNow, undefined)
      const run = yield* runs.awaitEnd(run_id).pipe(within("the run's end"))
      expect(run.status).toBe("done")
      expect(run.steps[0]).toMatchObject({ status: "passed", value: { original: "stuck", answer: "rescued" } })
    }).pipe(Effect.provide(latchedEngine)))

  it.scopedLive("a submit while hook_after is out (the step not yet finished) is refused", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const events = yield* EventWrites
      const afterSeen = yield* Deferred.make<ServerFrame>()
      const handler: Handler = (frame) => {
        switch (frame.type) {
          case "hook_before":
            return Effect.succeed(Option.some({ type: "hook_ack", ok: true } as Reply))
          case "spawn":
            return subAgent(frame, () => "done").pipe(Effect.zipRight(ack()))
          case "hook_after":
            return Effect.as(Deferred.succeed(afterSeen, frame), Option.none())
          default:
            return none
        }
      }
      // hold the engine right after it sent hook_after, before it finishes the step
      const held = yield* events.arm((e) => e.type === "request_answered" && e.kind === "hook_after")
      const op = yield* startOperator(handler)
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("writer")], step("writer", "$", "$.text"), {
          ...seats,
          middleware: ["main_ai"]
        }),
        operator_sid: op.sid
      })
      yield* Deferred.await(held.reached).pipe(within("the engine sending hook_after"))
      const after = yield* Deferred.await(afterSeen).pipe(within("the operator receiving hook_after"))
      const spawn = (yield* op.frames).find((f): f is SpawnFrame => f.type === "spawn")
      if (spawn === undefined) return expect.unreachable("no spawn was sent")
      expect(after).toMatchObject({ type: "hook_after", task_id: spawn.task_id, result: "done" })
      expect((yield* runs.get(run_id)).steps.map((s) => s.status)).toEqual(["running"])

      yield* expectAllRefused(
        spawn.worker_handle ?? "",
        `step ${spawn.task_id} takes no more input: its result has already been taken`
      )

      yield* held.release
      const run = yield* runs.awaitEnd(run_id).pipe(within("the run's end"))
      expect(run.status).toBe("done")
      expect(run.steps[0]).toMatchObject({ status: "passed", value: "done" })
    }).pipe(Effect.provide(latchedEngine)))
})

describe("a submit racing the engine's read of the result", () => {
  it.scopedLive("a submit arriving while the engine reads and seals the step waits, then is refused; the read result stands", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const writes = yield* StepWrites
      const armed = yield* Deferred.make<Held<StepRecord>>()
      const handler: Handler = (frame) =>
        frame.type !== "spawn" ? none : Effect.gen(function*() {
          const w = yield* Worker
          yield* w.prompt(frame.worker_handle ?? "")
          // the engine's next write of this step after the reply is its read-and-seal
          yield* Deferred.succeed(armed, yield* writes.arm((rec) => rec.step_id === frame.task_id))
          return Option.some({ type: "spawn_ack", value: "from the ack", ok: true } as Reply)
        })
      const op = yield* startOperator(handler)
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("racer")], step("racer", "$", "$.out"), seats),
        operator_sid: op.sid
      })
      const held = yield* Deferred.await(armed).pipe(within("the spawn"))
      yield* Deferred.await(held.reached).pipe(within("the engine reading the step's result"))
      const spawn = (yield* op.frames).find((f): f is SpawnFrame => f.type === "spawn")
      if (spawn === undefined) return expect.unreachable("no spawn was sent")

      // the engine is between reading the submission and storing the seal: a submit now must not slip in
      const submit = yield* Effect.fork(worker.submit(spawn.worker_handle ?? "", "from the worker"))
      yield* parkedOrDone(submit)
      yield* held.release
      const outcome = yield* Fiber.await(submit)
      expect(outcome._tag, "the submit was accepted although the engine had already read the step").toBe("Failure")
      const error = yield* Effect.flip(Fiber.join(submit))
      // whether the engine has also finished the step by the time the submit gets its turn is the scheduler's choice
      expect(error._tag).toBe("StepGone")
      expect([
        `step ${spawn.task_id} takes no more input: its result has already been taken`,
        `step ${spawn.task_id} takes no more input: it has finished (passed)`
      ]).toContain(error.message)
      const run = yield* runs.awaitEnd(run_id).pipe(within("the run's end"))
      expect(run.status).toBe("done")
      expect(run.result).toMatchObject({ out: "from the ack" })
      expect(run.steps[0]?.value).toBe("from the ack")
    }).pipe(Effect.provide(latchedEngine)))

  it.scopedLive("a submit that gets in first is the step's value, even with the reply close behind", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const writes = yield* StepWrites
      const spawned = yield* Deferred.make<SpawnFrame>()
      const replyNow = yield* Deferred.make<void>()
      const replied = yield* Ref.make(false)
      const handler: Handler = (frame) =>
        frame.type !== "spawn" ? none : Deferred.succeed(spawned, frame).pipe(
          Effect.zipRight(Deferred.await(replyNow)),
          Effect.zipRight(Ref.set(replied, true)),
          Effect.as(Option.some({ type: "spawn_ack", value: "from the ack", ok: true } as Reply))
        )
      const op = yield* startOperator(handler)
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("racer")], step("racer", "$", "$.out"), seats),
        operator_sid: op.sid
      })
      const spawn = yield* Deferred.await(spawned).pipe(within("the spawn"))
      // hold the worker's write of its submission, then let the reply go
      const held = yield* writes.arm((rec) => rec.step_id === spawn.task_id && rec.submission !== undefined)
      const submit = yield* Effect.fork(worker.submit(spawn.worker_handle ?? "", "from the worker"))
      yield* Deferred.await(held.reached).pipe(within("the worker's write"))
      yield* Deferred.succeed(replyNow, undefined)
      yield* held.release
      expect(yield* Fiber.join(submit)).toMatchObject({ task_id: spawn.task_id })
      const run = yield* runs.awaitEnd(run_id).pipe(within("the run's end"))
      expect(yield* Ref.get(replied)).toBe(true)
      expect(run.steps[0]?.value).toBe("from the worker")
    }).pipe(Effect.provide(latchedEngine)))
})
