/**
 * The session tells the socket's writer about its queue (OutboundWatch.ts): synchronously
 * when a frame is offered, so the frame can go out from the offering fiber, and once when
 * the queue is shut, after the session's state has moved (replaced vs torn down).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import { newSid } from "../../src/protocol/ids.js"
import * as OperatorSession from "../../src/services/OperatorSession.js"
import { watchOutbound } from "../../src/services/OutboundWatch.js"
import { askBody, waitForPending } from "./helpers.js"

const recorder = (session: OperatorSession.OperatorSessionShape) => {
  const events: Array<string> = []
  return {
    events,
    watcher: {
      offered: () => events.push("offered"),
      shut: () => events.push(`shut while ${Effect.runSync(session.state)}`)
    }
  }
}

describe("OutboundWatch", () => {
  it.scoped("a request's frame is announced as it is offered, and is in the queue then", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const seen: Array<number> = []
      watchOutbound(queue, {
        offered: () => seen.push(Effect.runSync(Queue.size(queue))),
        shut: () => {}
      })
      const fiber = yield* Effect.fork(session.request(askBody("why?")))
      yield* waitForPending(session, 1)
      expect(seen).toEqual([1])
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("a newer socket shuts the old queue while the session is still connected; teardown after it is torn down", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const first = yield* session.replaceOutbound
      const one = recorder(session)
      watchOutbound(first, one.watcher)
      const second = yield* session.replaceOutbound
      expect(one.events).toEqual(["shut while connected"])
      const two = recorder(session)
      watchOutbound(second, two.watcher)
      yield* session.teardown("test")
      expect(two.events).toEqual(["shut while torn_down"])
      // each watcher hears of its queue's end once
      expect(one.events).toEqual(["shut while connected"])
    }))

  it.scoped("clearing the slot announces the end; watching a queue already shut announces it at once", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const one = recorder(session)
      watchOutbound(queue, one.watcher)
      yield* session.clearOutboundIf(queue)
      expect(one.events).toEqual(["shut while disconnected"])
      const late = recorder(session)
      watchOutbound(queue, late.watcher)
      expect(late.events).toEqual(["shut while disconnected"])
    }))
})
