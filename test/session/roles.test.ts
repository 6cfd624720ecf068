import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Queue } from "effect"
import type { PendingReply, RequestFrame, ServerFrame, SpawnFrame } from "../../src/protocol/frames.js"
import { newSid, type RunId, StepId } from "../../src/protocol/ids.js"
import { SpawnRejected, UnexpectedReply, WorkerFailed } from "../../src/services/OperatorErrors.js"
import * as OperatorSession from "../../src/services/OperatorSession.js"
import { Operator, rolesOf, SeniorBridge, SessionRoles, SpawnHook } from "../../src/services/roles/index.js"
import { answerNext, drain } from "./helpers.js"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

// Fresh per test: a session plus its three roles, the session exposed for the "operator" side.
const rolesLayer = () =>
  SessionRoles.pipe(Layer.provideMerge(OperatorSession.layer(newSid())))

/** Run `call` against the roles, answer its one request with `reply`, return the frame and the exit. */
const roundTrip = <A, E>(
  call: Effect.Effect<A, E, SeniorBridge | SpawnHook | Operator>,
  reply: (frame: RequestFrame) => PendingReply
) =>
  Effect.gen(function*() {
    const session = yield* OperatorSession.OperatorSession
    const queue = yield* session.replaceOutbound
    const fiber = yield* Effect.fork(call)
    const frame = yield* answerNext(session, queue, reply)
    return { frame, exit: yield* Fiber.await(fiber), queue }
  }).pipe(Effect.provide(rolesLayer()))

const ctx = { taskId: StepId.make("ST-00000000000000a1"), agent: "writer", attempt: 2 } as const

describe("SeniorBridge.fromSession", () => {
  it.effect("ask → answer gives the value", () =>
    Effect.gen(function*() {
      const { exit, frame } = yield* roundTrip(
        Effect.flatMap(SeniorBridge, (b) => b.ask({ taskId: ctx.taskId, question: { pick: ["a", "b"] } })),
        (f) => ({ type: "answer", req_id: f.req_id, value: "a" })
      )
      expect(frame).toMatchObject({ type: "ask", task_id: ctx.taskId, question: { pick: ["a", "b"] } })
      expect(exit).toEqual(Exit.succeed("a"))
    }))

  it.effect("ask → hook_ack fails with UnexpectedReply naming the type", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(
        Effect.flatMap(SeniorBridge, (b) => b.ask({ taskId: ctx.taskId, question: "?" })),
        (f) => ({ type: "hook_ack", req_id: f.req_id, ok: true })
      )
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(UnexpectedReply)
      expect(error.message).toBe("expected answer to ask, got hook_ack")
    }))

  it.effect("ask carries the run id (withdrawal finds it) and a given req_id", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.OperatorSession
      const bridge = yield* SeniorBridge
      const fiber = yield* Effect.fork(bridge.ask({ taskId: ctx.taskId, question: 1, runId: "R-9", reqId: "given" }))
      const queue = yield* session.replaceOutbound
      expect((yield* Queue.take(queue)) as RequestFrame).toMatchObject({ req_id: "given" })
      expect(yield* session.withdraw({ run_id: "R-9" as RunId }, "run_cancelled")).toBe(1)
      expect(failureOf(yield* Fiber.await(fiber))).toMatchObject({ _tag: "RequestWithdrawn" })
    }).pipe(Effect.provide(rolesLayer())))
})

describe("SpawnHook.fromSession", () => {
  const before = Effect.flatMap(SpawnHook, (h) => h.before(ctx))

  it.effect("hook_ack ok:true lets the spawn go ahead", () =>
    Effect.gen(function*() {
      const { exit, frame } = yield* roundTrip(before, (f) => ({ type: "hook_ack", req_id: f.req_id, ok: true }))
      expect(frame).toMatchObject({ type: "hook_before", task_id: ctx.taskId, agent: "writer", attempt: 2 })
      expect(exit).toEqual(Exit.void)
    }))

  it.effect("hook_ack ok:false rejects with the operator's reason", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(
        before,
        (f) => ({ type: "hook_ack", req_id: f.req_id, ok: false, reason: "not today" })
      )
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(SpawnRejected)
      expect(error).toMatchObject({ reason: "not today" })
    }))

  it.effect("hook_ack ok:false without a reason says so", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(before, (f) => ({ type: "hook_ack", req_id: f.req_id, ok: false }))
      expect(failureOf(exit)).toMatchObject({ _tag: "SpawnRejected", reason: "spawn rejected by operator" })
    }))

  it.effect("answer to hook_before fails with UnexpectedReply naming the type", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(before, (f) => ({ type: "answer", req_id: f.req_id, value: 1 }))
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(UnexpectedReply)
      expect(error.message).toBe("expected hook_ack to hook_before, got answer")
    }))

  it.effect("after sends hook_after while connected and owes nothing", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.OperatorSession
      const hook = yield* SpawnHook
      const queue = yield* session.replaceOutbound
      yield* hook.after(ctx, { out: "x" })
      const frames: ReadonlyArray<ServerFrame> = yield* drain(queue)
      expect(frames).toHaveLength(1)
      expect(frames[0]).toMatchObject({
        type: "hook_after",
        task_id: ctx.taskId,
        agent: "writer",
        attempt: 2,
        result: { out: "x" }
      })
      expect(yield* session.pending).toEqual([])
      // disconnected: nothing is sent and nothing fails
      yield* session.clearOutboundIf(queue)
      yield* hook.after(ctx, null)
      expect(yield* drain(yield* session.replaceOutbound)).toEqual([])
    }).pipe(Effect.provide(rolesLayer())))
})

describe("Operator.fromSession", () => {
  const spawnCtx = {
    ...ctx,
    runId: "R-0000000000000001",
    capabilityToken: "cap.long.token",
    workerHandle: "wh-abcdefghijkl",
    directive: "[agent_primitive dispatch=@writer]"
  }
  const execute = Effect.flatMap(Operator, (o) => o.execute(spawnCtx))

  it.effect("spawn frame carries every field", () =>
    Effect.gen(function*() {
      const { frame } = yield* roundTrip(
        execute,
        (f) => ({ type: "spawn_ack", req_id: f.req_id, value: null, ok: true })
      )
      const expected: Omit<SpawnFrame, "req_id"> = {
        type: "spawn",
        task_id: ctx.taskId,
        agent: "writer",
        attempt: 2,
        capability_token: "cap.long.token",
        worker_handle: "wh-abcdefghijkl",
        run_id: "R-0000000000000001",
        directive: "[agent_primitive dispatch=@writer]"
      }
      expect(frame).toMatchObject(expected)
    }))

  it.effect("spawn_ack without error is a worker result with stats", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(
        execute,
        (f) => ({ type: "spawn_ack", req_id: f.req_id, value: "out", ok: true, stats: { tokens: 3 } })
      )
      expect(exit).toEqual(Exit.succeed({ value: "out", ok: true, stats: { tokens: 3 } }))
    }))

  it.effect("spawn_ack ok:false without error is a normal result reporting failure", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(execute, (f) => ({ type: "spawn_ack", req_id: f.req_id, value: 7, ok: false }))
      expect(exit).toEqual(Exit.succeed({ value: 7, ok: false }))
    }))

  it.effect("spawn_ack with error fails the worker whatever ok says", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(
        execute,
        (f) => ({ type: "spawn_ack", req_id: f.req_id, value: null, ok: true, error: "could not start" })
      )
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(WorkerFailed)
      expect(error.message).toBe("could not start")
    }))

  it.effect("spawn_halt is a success carrying halted, reason and value", () =>
    Effect.gen(function*() {
      const withReason = yield* roundTrip(
        execute,
        (f) => ({ type: "spawn_halt", req_id: f.req_id, value: { partial: 1 }, reason: "enough" })
      )
      expect(withReason.exit).toEqual(
        Exit.succeed({ ok: true, value: { halted: true, reason: "enough", value: { partial: 1 } } })
      )
      const withoutReason = yield* roundTrip(execute, (f) => ({ type: "spawn_halt", req_id: f.req_id, value: null }))
      expect(withoutReason.exit).toEqual(
        Exit.succeed({ ok: true, value: { halted: true, reason: null, value: null } })
      )
    }))

  it.effect("answer to spawn fails with UnexpectedReply naming the type", () =>
    Effect.gen(function*() {
      const { exit } = yield* roundTrip(execute, (f) => ({ type: "answer", req_id: f.req_id, value: 1 }))
      const error = failureOf(exit)
      expect(error).toBeInstanceOf(UnexpectedReply)
      expect(error.message).toBe("expected spawn_ack or spawn_halt to spawn, got answer")
    }))
})

describe("SessionRoles", () => {
  it.effect("the three roles share one session and its sid", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.OperatorSession
      expect((yield* SeniorBridge).sid).toBe(session.sid)
      expect((yield* SpawnHook).sid).toBe(session.sid)
      expect((yield* Operator).sid).toBe(session.sid)
      const queue = yield* session.replaceOutbound
      const ask = yield* Effect.fork(Effect.flatMap(SeniorBridge, (b) => b.ask({ taskId: ctx.taskId, question: 1 })))
      const hook = yield* Effect.fork(Effect.flatMap(SpawnHook, (h) => h.before(ctx)))
      const first = (yield* Queue.take(queue)) as RequestFrame
      const second = (yield* Queue.take(queue)) as RequestFrame
      expect([first.type, second.type].sort()).toEqual(["ask", "hook_before"])
      expect(yield* session.pending).toHaveLength(2)
      for (const f of [first, second]) {
        yield* session.resolve(
          f.type === "ask"
            ? { type: "answer", req_id: f.req_id, value: 1 }
            : { type: "hook_ack", req_id: f.req_id, ok: true }
        )
      }
      expect(yield* Fiber.join(ask)).toBe(1)
      yield* Fiber.join(hook)
    }).pipe(Effect.provide(rolesLayer())))
})

describe("rolesOf", () => {
  it.scoped("gives the three roles of SessionRoles over the one session, without a Layer build", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const roles = rolesOf(session)
      const queue = yield* session.replaceOutbound
      expect([Context.get(roles, SeniorBridge).sid, Context.get(roles, SpawnHook).sid, Context.get(roles, Operator).sid]).toEqual([
        session.sid,
        session.sid,
        session.sid
      ])
      const asked = yield* Effect.fork(Context.get(roles, SeniorBridge).ask({ taskId: ctx.taskId, question: "q" }))
      yield* answerNext(session, queue, (f) => ({ type: "answer", req_id: f.req_id, value: 42 }))
      expect(yield* Fiber.join(asked)).toBe(42)
      const before = yield* Effect.fork(Context.get(roles, SpawnHook).before(ctx))
      const frame = yield* answerNext(session, queue, (f) => ({ type: "hook_ack", req_id: f.req_id, ok: true }))
      expect(frame.type).toBe("hook_before")
      yield* Fiber.join(before)
    }))
})
