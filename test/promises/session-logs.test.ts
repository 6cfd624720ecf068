/**
 * The session's log lines that docs/observability.md lists, with the fields it promises:
 * `request timed out` (sid, req_id, kind), `request withdrawn` (sid, req_id, reason),
 * `operator disconnected` (sid), `operator session torn down` (sid, reason, failed), the
 * last exactly once however often teardown is called. Also: a caller interrupted just after
 * its reply arrived sends no `cancel` for a request the operator already answered.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue, TestClock } from "effect"
import type { RequestFrame } from "../../src/protocol/frames.js"
import { newSid, type RunId } from "../../src/protocol/ids.js"
import * as OperatorSession from "../../src/services/OperatorSession.js"
import { askBody, captureLogs, drain, spawnBody, waitForPending } from "../session/helpers.js"

const logged = (logs: ReturnType<typeof captureLogs>["logs"], message: string) =>
  logs.filter((l) => l.message === message).map((l) => l.annotations)

describe("the session's documented log lines", () => {
  it.scoped("request timed out: sid, req_id, kind", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid(), { deadlines: { ask: "5 seconds" } })
      const queue = yield* session.replaceOutbound
      const call = yield* Effect.fork(session.request(askBody("slow")))
      const frame = (yield* Queue.take(queue)) as RequestFrame
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.await(call)
      expect(logged(logs, "request timed out")).toEqual([{ sid: session.sid, req_id: frame.req_id, kind: "ask" }])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("request withdrawn: sid, req_id, reason, one line per request", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const run = "R-00000000000000e1" as RunId
      yield* Effect.fork(session.request({ ...spawnBody("ST-00000000000000e1"), run_id: run } as never))
      const frame = (yield* Queue.take(queue)) as RequestFrame
      expect(yield* session.withdraw({ run_id: run }, "run_cancelled")).toBe(1)
      expect(logged(logs, "request withdrawn")).toEqual([{ sid: session.sid, req_id: frame.req_id, reason: "run_cancelled" }])
    }).pipe(Effect.provide(layer))
  })

  it.scoped("operator disconnected: sid; torn down: sid, reason, failed, logged once however often teardown is called", () => {
    const { layer, logs } = captureLogs()
    return Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      yield* session.clearOutboundIf(queue)
      expect(logged(logs, "operator disconnected")).toEqual([{ sid: session.sid }])
      yield* Effect.fork(session.request(askBody("one", "ST-00000000000000e2")))
      yield* Effect.fork(session.request(askBody("two", "ST-00000000000000e3")))
      yield* waitForPending(session, 2)
      yield* session.teardown("the test ends it")
      yield* session.teardown("a second time")
      expect(logged(logs, "operator session torn down")).toEqual([
        { sid: session.sid, reason: "the test ends it", failed: 2 }
      ])
    }).pipe(Effect.provide(layer))
  })
})

describe("a caller interrupted just after its reply arrived", () => {
  it.scoped("sends no cancel: the operator already answered", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const call = yield* Effect.fork(session.request(askBody("answered, then interrupted")))
      const frame = (yield* Queue.take(queue)) as RequestFrame
      // the reply and the interrupt land in the same turn: the caller sees both
      expect(yield* session.resolve({ type: "answer", req_id: frame.req_id, value: 1 })).toBe("resolved")
      yield* Fiber.interrupt(call)
      expect(yield* session.pending).toEqual([])
      expect((yield* drain(queue)).filter((f) => f.type === "cancel")).toEqual([])
    }))
})

