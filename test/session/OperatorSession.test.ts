import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Queue, Scope, TestClock } from "effect"
import type { AskFrame, CancelFrame, HookAfterFrame, RequestFrame, ServerFrame } from "../../src/protocol/frames.js"
import { isReqId, newSid, type RunId, StepId } from "../../src/protocol/ids.js"
import { withParentRequest } from "../../src/services/CurrentRequest.js"
import { RequestTimedOut, RequestWithdrawn, SessionTornDown } from "../../src/services/OperatorErrors.js"
import * as OperatorSession from "../../src/services/OperatorSession.js"
import {
  answerNext,
  askBody,
  captureLogs,
  drain,
  hookBody,
  isRequest,
  spawnBody,
  waitForPending
} from "./helpers.js"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

const answer = (req_id: string, value: unknown) => ({ type: "answer", req_id, value }) as const

describe("OperatorSession", () => {
  it.scoped("request → reply: the first reply wins and the entry is gone", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const fiber = yield* Effect.fork(session.request(askBody("why?")))
      const frame = yield* Queue.take(queue)
      expect(frame.type).toBe("ask")
      const reqId = (frame as AskFrame).req_id
      expect(isReqId(reqId)).toBe(true)
      expect(reqId.startsWith(`${session.sid}-ask-`)).toBe(true)
      expect((yield* session.pending).map((p) => p.reqId)).toEqual([reqId])
      expect(yield* session.resolve(answer(reqId, 42))).toBe("resolved")
      expect(yield* Fiber.join(fiber)).toEqual(answer(reqId, 42))
      expect(yield* session.resolve(answer(reqId, 43))).toBe("unknown_request")
      expect(yield* session.pending).toEqual([])
    }))

  it.scoped("a reply to an id that was never sent is unknown_request", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      expect(yield* session.resolve(answer(`${session.sid}-ask-00000000-0000-4000-8000-000000000000`, 1)))
        .toBe("unknown_request")
    }))

  it.scoped("a given req_id is used as is", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const fiber = yield* Effect.fork(session.request(askBody("q"), { reqId: "fixed-id", runId: "R-1" }))
      const frame = yield* Queue.take(queue)
      expect(frame).toMatchObject({ type: "ask", req_id: "fixed-id" })
      expect((yield* session.pending)[0]).toMatchObject({ reqId: "fixed-id", runId: "R-1", kind: "ask" })
      yield* session.resolve(answer("fixed-id", "ok"))
      expect(yield* Fiber.join(fiber)).toEqual(answer("fixed-id", "ok"))
    }))

  it.scoped("sending while disconnected parks the request; it goes out on attach", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      expect(yield* session.state).toBe("disconnected")
      const fiber = yield* Effect.fork(session.request(askBody("parked")))
      yield* waitForPending(session, 1)
      expect(fiber.unsafePoll()).toBeNull()
      const queue = yield* session.replaceOutbound
      expect(yield* session.state).toBe("connected")
      const frames = yield* drain(queue)
      expect(frames).toHaveLength(1)
      expect(frames[0]).toMatchObject({ type: "ask", question: "parked", redelivery: true })
      const reqId = (frames[0] as AskFrame).req_id
      yield* session.resolve(answer(reqId, "done"))
      expect(yield* Fiber.join(fiber)).toEqual(answer(reqId, "done"))
    }))

  it.scoped("reattach redelivers every pending request, oldest first, flagged redelivery", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const first = yield* session.replaceOutbound
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (let i = 0; i < 20; i++) {
        fibers.push(yield* Effect.fork(session.request(askBody(i))))
        yield* waitForPending(session, i + 1)
        // several share a created time, so insertion order must break the tie
        if (i % 3 === 0) yield* TestClock.adjust("1 millis")
      }
      const sent = yield* drain(first)
      expect(sent.map((f) => (f as AskFrame).question)).toEqual([...Array(20).keys()])
      expect(sent.every((f) => !("redelivery" in f))).toBe(true)

      const second = yield* session.replaceOutbound
      expect(yield* Queue.isShutdown(first)).toBe(true)
      const again = yield* drain(second)
      expect(again.map((f) => (f as AskFrame).question)).toEqual([...Array(20).keys()])
      expect(again.map((f) => (f as AskFrame).req_id)).toEqual(sent.map((f) => (f as AskFrame).req_id))
      expect(again.every((f) => (f as AskFrame).redelivery === true)).toBe(true)

      for (const frame of again) yield* session.resolve(answer((frame as AskFrame).req_id, null))
      yield* Fiber.joinAll(fibers)
      expect(yield* session.pending).toEqual([])
    }))

  it.scoped("beforeRedelivery rewrites a redelivered frame and the rewrite is kept; others go out unchanged", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      let minted = 0
      const rewrite = (frame: RequestFrame) =>
        Effect.sync((): RequestFrame => frame.type === "spawn" ? { ...frame, capability_token: `fresh-${++minted}` } : frame)
      const spawn = yield* Effect.fork(session.request(spawnBody(), { beforeRedelivery: rewrite }))
      const ask = yield* Effect.fork(session.request(askBody("plain")))
      yield* waitForPending(session, 2)

      // the first delivery is the frame as issued
      const first = yield* drain(yield* session.replaceOutbound)
      expect(first.find((f) => f.type === "spawn")).toMatchObject({ capability_token: "fresh-1", redelivery: true })
      const second = yield* drain(yield* session.replaceOutbound)
      expect(second.find((f) => f.type === "spawn")).toMatchObject({ capability_token: "fresh-2", redelivery: true })
      expect(second.find((f) => f.type === "ask")).toMatchObject({ question: "plain", redelivery: true })
      const pendingSpawn = (yield* session.pending).find((p) => p.kind === "spawn")
      expect(pendingSpawn?.frame).toMatchObject({ capability_token: "fresh-2" })

      for (const frame of second.filter(isRequest)) {
        yield* session.resolve(frame.type === "spawn" ? { type: "spawn_ack", req_id: frame.req_id, value: null, ok: true } : answer(frame.req_id, 1))
      }
      yield* Fiber.joinAll([spawn, ask])
    }))

  it.scoped("a request registered while a reattach prepares its redelivery still reaches the new socket", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      let late: Fiber.RuntimeFiber<unknown, unknown> | undefined
      // the hook runs after the new queue took the slot and the pending map was read:
      // a request registered now is in no snapshot and must find the new queue itself
      const issueAnother = (frame: RequestFrame) =>
        Effect.gen(function*() {
          late = yield* Effect.fork(session.request(askBody("registered mid-attach")))
          yield* waitForPending(session, 2)
          return frame
        })
      const parked = yield* Effect.fork(session.request(askBody("parked"), { beforeRedelivery: issueAnother }))
      yield* waitForPending(session, 1)

      const queue = yield* session.replaceOutbound
      const frames = (yield* drain(queue)).filter(isRequest) as Array<AskFrame>
      expect(frames.map((f) => f.question).sort()).toEqual(["parked", "registered mid-attach"])
      for (const frame of frames) yield* session.resolve(answer(frame.req_id, null))
      yield* Fiber.joinAll([parked, late!])
      expect(yield* session.pending).toEqual([])
    }))

  it.scoped("an older queue's clearOutboundIf does not disconnect a newer one", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const older = yield* session.replaceOutbound
      const newer = yield* session.replaceOutbound
      yield* session.clearOutboundIf(older)
      expect(yield* session.state).toBe("connected")
      const fiber = yield* Effect.fork(session.request(askBody("to the newer")))
      const frame = yield* answerNext(session, newer, (f) => answer(f.req_id, 1))
      expect(frame).toMatchObject({ question: "to the newer" })
      yield* Fiber.join(fiber)
      yield* session.clearOutboundIf(newer)
      expect(yield* session.state).toBe("disconnected")
      expect(yield* Queue.isShutdown(newer)).toBe(true)
    }))

  it.scoped("a request offered to a queue shut down under it stays pending and is redelivered", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const dead = yield* session.replaceOutbound
      yield* Queue.shutdown(dead) // as if a swap shut it between the slot read and the offer
      const fiber = yield* Effect.fork(session.request(askBody("survives")))
      yield* waitForPending(session, 1)
      expect(fiber.unsafePoll()).toBeNull()
      const live = yield* session.replaceOutbound
      const frame = yield* answerNext(session, live, (f) => answer(f.req_id, "ok"))
      expect(frame).toMatchObject({ question: "survives", redelivery: true })
      expect(yield* Fiber.join(fiber)).toMatchObject({ value: "ok" })
    }))

  it.scoped("teardown fails parked and sent requests at once, is idempotent, and refuses a later attach", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const sent = yield* Effect.fork(session.request(askBody("sent")))
      yield* Queue.take(queue)
      yield* session.clearOutboundIf(queue)
      const parked = yield* Effect.fork(session.request(hookBody()))
      yield* waitForPending(session, 2)
      const watcher = yield* Effect.fork(session.awaitTeardown)

      yield* session.teardown("deleted by its owner")
      expect(yield* session.state).toBe("torn_down")
      for (const fiber of [sent, parked]) {
        const error = failureOf(yield* Fiber.await(fiber))
        expect(error).toBeInstanceOf(SessionTornDown)
        expect((error as SessionTornDown).message).toContain("operator session")
        expect((error as SessionTornDown).message).toContain("torn down")
      }
      expect(yield* session.pending).toEqual([])
      yield* Fiber.join(watcher)

      yield* session.teardown("again")
      expect(yield* session.state).toBe("torn_down")
      const attach = yield* Effect.exit(session.replaceOutbound)
      expect(failureOf(attach)).toBeInstanceOf(SessionTornDown)
      const late = yield* Effect.exit(session.request(askBody("too late")))
      expect(failureOf(late)).toBeInstanceOf(SessionTornDown)
      expect(yield* session.pending).toEqual([])
    }))

  it.scoped("teardown shuts the attached queue", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      yield* session.teardown("gone")
      expect(yield* Queue.isShutdown(queue)).toBe(true)
    }))

  it.effect("closing the session's scope tears it down", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const session = yield* OperatorSession.make(newSid()).pipe(Scope.extend(scope))
      const fiber = yield* Effect.fork(session.request(askBody("q")))
      yield* waitForPending(session, 1)
      yield* Scope.close(scope, Exit.void)
      expect(failureOf(yield* Fiber.await(fiber))).toBeInstanceOf(SessionTornDown)
      expect(yield* session.state).toBe("torn_down")
    }))

  it.scoped("hook_after is dropped and logged while disconnected, delivered while connected", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const body = {
        type: "hook_after",
        task_id: StepId.make("ST-00000000000000aa"),
        agent: "critic",
        attempt: 2,
        result: 1
      } as const
      yield* session.notify(body)
      const dropLog = logs.find((l) => l.message.includes("hook_after dropped"))
      expect(dropLog?.annotations).toMatchObject({ task_id: "ST-00000000000000aa", agent: "critic", attempt: 2 })

      const queue = yield* session.replaceOutbound
      expect(yield* drain(queue)).toEqual([]) // the dropped one is not redelivered
      yield* session.notify(body)
      const [frame] = yield* drain(queue)
      expect(frame).toMatchObject(body)
      expect(isReqId((frame as HookAfterFrame).req_id)).toBe(true)
      expect((frame as HookAfterFrame).req_id).toContain("-ha-")
      expect(yield* session.pending).toEqual([]) // fire and forget
      expect(logs.filter((l) => l.message.includes("hook_after dropped"))).toHaveLength(1)
    }).pipe(Effect.provide(layer))
  })

  describe("deadlines (R6)", () => {
    const cases = [
      { kind: "ask", body: askBody("q"), deadlines: { ask: "5 seconds" }, ms: 5_000, config: "ask_timeout" },
      { kind: "hook_before", body: hookBody(), deadlines: { hook: "7 seconds" }, ms: 7_000, config: "hook_timeout" },
      { kind: "spawn", body: spawnBody(), deadlines: { spawn: "11 seconds" }, ms: 11_000, config: "spawn_timeout" }
    ] as const

    for (const c of cases) {
      it.scoped(`${c.kind} times out exactly at its deadline`, () =>
        Effect.gen(function*() {
          // the other kinds get much longer deadlines, so only this kind's can fire
          const session = yield* OperatorSession.make(newSid(), {
            deadlines: { ask: "1 hour", hook: "1 hour", spawn: "1 hour", ...c.deadlines }
          })
          const queue = yield* session.replaceOutbound
          const fiber = yield* Effect.fork(session.request(c.body))
          const request = yield* Queue.take(queue)
          const reqId = (request as { req_id: string }).req_id

          yield* TestClock.adjust(c.ms - 1)
          expect(fiber.unsafePoll()).toBeNull()
          expect((yield* session.pending).map((p) => p.reqId)).toEqual([reqId])
          expect(yield* drain(queue)).toEqual([])

          yield* TestClock.adjust(1)
          const error = failureOf(yield* Fiber.await(fiber))
          expect(error).toBeInstanceOf(RequestTimedOut)
          expect(error).toMatchObject({ kind: c.kind, reqId, deadlineMs: c.ms })
          expect((error as RequestTimedOut).message).toContain(c.kind)
          expect((error as RequestTimedOut).message).toContain(`${c.ms} ms`)
          expect((error as RequestTimedOut).message).toContain(c.config)
          expect(yield* session.pending).toEqual([])
          const cancel: CancelFrame = { type: "cancel", req_id: reqId, reason: "deadline" }
          expect(yield* drain(queue)).toEqual([cancel])
          expect(yield* session.resolve(answer(reqId, "late"))).toBe("unknown_request")
        }))
    }

    it.scoped("a parked request's deadline runs while disconnected and sends no cancel", () =>
      Effect.gen(function*() {
        const session = yield* OperatorSession.make(newSid(), { deadlines: { ask: "2 seconds" } })
        const fiber = yield* Effect.fork(session.request(askBody("q")))
        yield* waitForPending(session, 1)
        yield* TestClock.adjust("2 seconds")
        expect(failureOf(yield* Fiber.await(fiber))).toBeInstanceOf(RequestTimedOut)
        const queue = yield* session.replaceOutbound
        expect(yield* drain(queue)).toEqual([])
      }))

    it.scoped("without a deadline a request waits indefinitely", () =>
      Effect.gen(function*() {
        const session = yield* OperatorSession.make(newSid())
        const fiber = yield* Effect.fork(session.request(spawnBody()))
        yield* waitForPending(session, 1)
        yield* TestClock.adjust("1000 days")
        expect(fiber.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(fiber)
      }))

    it.scoped("a reply just before the deadline wins", () =>
      Effect.gen(function*() {
        const session = yield* OperatorSession.make(newSid(), { deadlines: { ask: "5 seconds" } })
        const queue = yield* session.replaceOutbound
        const fiber = yield* Effect.fork(session.request(askBody("q")))
        const frame = (yield* Queue.take(queue)) as AskFrame
        yield* TestClock.adjust(4_999)
        yield* session.resolve(answer(frame.req_id, "in time"))
        yield* TestClock.adjust("1 minute")
        expect(yield* Fiber.join(fiber)).toMatchObject({ value: "in time" })
        expect(yield* drain(queue)).toEqual([])
      }))
  })

  it.scoped("withdraw by run id leaves other runs alone and sends cancel frames", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const a = yield* Effect.fork(session.request(askBody("a"), { runId: "R-a" }))
      const b = yield* Effect.fork(session.request({ ...spawnBody(), run_id: "R-a" } as OperatorSession.RequestBody))
      const c = yield* Effect.fork(session.request(askBody("c"), { runId: "R-c" }))
      yield* waitForPending(session, 3)
      const sent = yield* drain(queue)
      const ids = sent.map((f) => (f as { req_id: string }).req_id)

      const count = yield* session.withdraw({ run_id: "R-a" as RunId }, "run_cancelled")
      expect(count).toBe(2)
      for (const fiber of [a, b]) {
        const error = failureOf(yield* Fiber.await(fiber))
        expect(error).toBeInstanceOf(RequestWithdrawn)
        expect(error).toMatchObject({ reason: "run_cancelled" })
      }
      expect(c.unsafePoll()).toBeNull()
      expect((yield* session.pending).map((p) => p.reqId)).toEqual([ids[2]])
      const cancels: Array<ServerFrame> = [
        { type: "cancel", req_id: ids[0]!, reason: "run_cancelled" },
        { type: "cancel", req_id: ids[1]!, reason: "run_cancelled" }
      ]
      expect(yield* drain(queue)).toEqual(cancels)
      expect(yield* session.resolve(answer(ids[0]!, 1))).toBe("unknown_request")
      yield* session.resolve(answer(ids[2]!, "c"))
      expect(yield* Fiber.join(c)).toMatchObject({ value: "c" })
    }))

  it.scoped("withdraw by {run_id, step_ids} takes only the requests of those steps", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const one = StepId.make("ST-00000000000000b1")
      const a = yield* Effect.fork(session.request(askBody("a", one), { runId: "R-a" }))
      const b = yield* Effect.fork(session.request(askBody("b", "ST-00000000000000b2"), { runId: "R-a" }))
      yield* waitForPending(session, 2)
      expect(yield* session.withdraw({ run_id: "R-a" as RunId, step_ids: [one] }, "seat_taken_over")).toBe(1)
      expect(failureOf(yield* Fiber.await(a))).toMatchObject({ _tag: "RequestWithdrawn", reason: "seat_taken_over" })
      expect(b.unsafePoll()).toBeNull()
      expect((yield* session.pending).map((p) => p.taskId)).toEqual(["ST-00000000000000b2"])
    }))

  it.scoped("withdraw while disconnected fails the calls but sends nothing", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const fiber = yield* Effect.fork(session.request(askBody("a"), { runId: "R-a" }))
      yield* waitForPending(session, 1)
      expect(yield* session.withdraw({ run_id: "R-a" as RunId }, "seat_taken_over")).toBe(1)
      expect(failureOf(yield* Fiber.await(fiber))).toMatchObject({ reason: "seat_taken_over" })
      const queue = yield* session.replaceOutbound
      expect(yield* drain(queue)).toEqual([])
    }))

  it.scoped("interrupting the caller removes the entry and sends cancel", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const fiber = yield* Effect.fork(session.request(askBody("never mind")))
      const frame = (yield* Queue.take(queue)) as AskFrame
      yield* Fiber.interrupt(fiber)
      expect(yield* session.pending).toEqual([])
      const cancel: CancelFrame = { type: "cancel", req_id: frame.req_id, reason: "interrupted" }
      expect(yield* drain(queue)).toEqual([cancel])
      expect(yield* session.resolve(answer(frame.req_id, 1))).toBe("unknown_request")
    }))

  it.scoped("a nested request carries parent_req_id; a top-level one has none", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const outer = yield* Effect.fork(session.request(spawnBody()))
      const spawn = yield* Queue.take(queue)
      expect("parent_req_id" in spawn).toBe(false)
      const spawnId = (spawn as { req_id: string }).req_id

      const inner = yield* Effect.fork(session.request(askBody("nested")).pipe(withParentRequest(spawnId)))
      const ask = (yield* Queue.take(queue)) as AskFrame
      expect(ask.parent_req_id).toBe(spawnId)
      yield* session.notify({ type: "hook_after", task_id: StepId.make("ST-0000000000000001"), agent: "a", attempt: 1, result: null }).pipe(
        withParentRequest(spawnId)
      )
      expect(yield* Queue.take(queue)).toMatchObject({ type: "hook_after", parent_req_id: spawnId })

      // a redelivered nested request keeps its parent
      const again = yield* session.replaceOutbound
      const redelivered = yield* drain(again)
      expect(redelivered.find((f) => f.type === "ask")).toMatchObject({ parent_req_id: spawnId, redelivery: true })

      yield* session.resolve(answer(ask.req_id, "fine"))
      yield* Fiber.join(inner)
      yield* session.resolve({ type: "spawn_ack", req_id: spawnId, value: null, ok: true })
      yield* Fiber.join(outer)
    }))

  it.scoped("10,000 concurrent requests on one session all resolve and leave the map empty", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      // the operator: echo every question back as the answer
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), (frame) =>
        isRequest(frame) && frame.type === "ask"
          ? session.resolve(answer(frame.req_id, frame.question))
          : Effect.void)))
      const n = 10_000
      const replies = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => session.request(askBody(i)),
        { concurrency: "unbounded" }
      )
      expect(replies.map((r) => (r as { value: unknown }).value)).toEqual(Array.from({ length: n }, (_, i) => i))
      expect(yield* session.pending).toEqual([])
    }))
})
