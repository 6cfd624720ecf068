/**
 * Session promises that only show under a particular interleaving, forced here with latches
 * (no sleeps): a request is owed before its frame can be seen (register before send); a
 * request made while a reconnect is under way still reaches the new socket; teardown fails
 * every waiter, including one whose registration it overlaps. Behaviour only: the session's
 * public shape, a Clock the request reads, and the public `beforeRedelivery` hook.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Logger, Option, Queue } from "effect"
import type { RequestFrame, ServerFrame } from "../../src/protocol/frames.js"
import { newSid, RunId, StepId } from "../../src/protocol/ids.js"
import * as OperatorSession from "../../src/services/OperatorSession.js"
import { askBody, drain, hookBody, isRequest, spawnBody, waitForPending } from "../session/helpers.js"

const answer = (req_id: string, value: unknown) => ({ type: "answer", req_id, value }) as const

/** A stop the test arms and releases; `pass` is where the code under test stops once. */
const makeStop = Effect.gen(function*() {
  const reached = yield* Deferred.make<void>()
  const go = yield* Deferred.make<void>()
  let armed = true
  return {
    reached: Deferred.await(reached),
    release: Deferred.succeed(go, undefined),
    pass: Effect.suspend(() => {
      if (!armed) return Effect.void
      armed = false
      // interruptible even inside the session's uninterruptible regions, so a failing test ends
      return Effect.zipRight(Deferred.succeed(reached, undefined), Effect.interruptible(Deferred.await(go)))
    })
  }
})

/** The default clock, except that its first `currentTimeMillis` read stops at `stop`. */
const stoppingClock = (stop: Effect.Effect<void>) =>
  Effect.map(Effect.clock, (base): Clock.Clock => ({
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis(),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
    currentTimeMillis: Effect.zipRight(stop, base.currentTimeMillis),
    currentTimeNanos: base.currentTimeNanos,
    sleep: (d) => base.sleep(d)
  }))

/**
 * The waiter must already be finished (a few scheduler turns to resume it, no time): a waiter
 * left hanging fails here with `what`, not with the test's timeout.
 */
const settled = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, what: string) =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 1_000; turn++) {
      const exit = fiber.unsafePoll()
      if (exit !== null) return exit
      yield* Effect.yieldNow()
    }
    expect.unreachable(`${what}: still waiting`)
    return yield* Effect.never
  })

const tornDownMessage = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit)
    ? Option.match(Cause.failureOption(exit.cause), {
      onNone: () => Cause.pretty(exit.cause),
      onSome: (e) => `${(e as { _tag?: string })._tag}: ${(e as { message?: string }).message}`
    })
    : "it succeeded"

describe("register before send", () => {
  it.scoped("a frame the operator can see is already owed: answering it at once resolves the request", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const stop = yield* makeStop
      const clock = yield* stoppingClock(stop.pass)
      const call = yield* Effect.fork(session.request(askBody("fast operator")).pipe(Effect.withClock(clock)))
      // the request is now in the middle of making itself owed
      yield* stop.reached
      for (const frame of yield* drain(queue)) {
        if (!isRequest(frame)) continue
        expect(yield* session.resolve(answer(frame.req_id, "too quick")), "a frame went out before it was owed")
          .toBe("resolved")
      }
      yield* stop.release
      const frame = yield* Queue.take(queue)
      if (!isRequest(frame)) return expect.unreachable(`expected the ask, got ${frame.type}`)
      expect(yield* session.resolve(answer(frame.req_id, "answered"))).toBe("resolved")
      expect(yield* Fiber.join(call)).toEqual(answer(frame.req_id, "answered"))
      expect(yield* session.pending).toEqual([])
    }))
})

describe("a request made while a reconnect is under way", () => {
  it.scoped("reaches the new socket (once or twice, never zero times), and both requests complete", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const first = yield* session.replaceOutbound
      const stop = yield* makeStop
      // request A's redelivery hook runs inside the reconnect; it holds the reconnect there
      const a = yield* Effect.fork(session.request(spawnBody("ST-000000000000000a"), {
        beforeRedelivery: (frame: RequestFrame) => Effect.as(stop.pass, frame)
      }))
      const sentA = yield* Queue.take(first)
      if (!isRequest(sentA)) return expect.unreachable("expected A's spawn")

      const reconnect = yield* Effect.fork(session.replaceOutbound)
      yield* stop.reached
      const b = yield* Effect.fork(session.request(askBody("made mid-reconnect", "ST-000000000000000b")))
      yield* waitForPending(session, 2)
      yield* stop.release
      const second = yield* Fiber.join(reconnect)

      const frames = (yield* drain(second)).filter(isRequest)
      const ids = frames.map((f) => f.req_id)
      const idB = (yield* session.pending).find((p) => p.kind === "ask")?.reqId
      expect(idB).toBeDefined()
      expect(ids, "A is redelivered on the new socket").toContain(sentA.req_id)
      expect(ids, "B, registered during the reconnect, goes out on the new socket").toContain(idB)
      expect(ids.filter((id) => id === idB).length).toBeLessThanOrEqual(2)
      expect(frames.find((f) => f.req_id === sentA.req_id)).toMatchObject({ redelivery: true })

      expect(yield* session.resolve({ type: "spawn_ack", req_id: sentA.req_id, value: "a", ok: true })).toBe("resolved")
      expect(yield* session.resolve(answer(idB ?? "", "b"))).toBe("resolved")
      expect(yield* Fiber.join(a)).toMatchObject({ value: "a" })
      expect(yield* Fiber.join(b)).toMatchObject({ value: "b" })
    }))
})

describe("teardown fails its waiters", () => {
  it.scoped("every caller waiting (sent, parked, of every kind) fails with SessionTornDown at once, naming the reason", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const sent = [askBody("sent"), hookBody(), spawnBody()]
      const sentFibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const body of sent) sentFibers.push(yield* Effect.fork(session.request(body)))
      yield* waitForPending(session, 3)
      expect((yield* drain(queue)).filter(isRequest)).toHaveLength(3)
      yield* session.clearOutboundIf(queue)
      const parked = yield* Effect.fork(session.request(askBody("parked")))
      yield* waitForPending(session, 4)

      yield* session.teardown("deleted by its owner")
      const all = [...sentFibers, parked]
      for (const [i, fiber] of all.entries()) {
        const exit = yield* settled(fiber, `waiter ${i} after teardown`)
        expect(tornDownMessage(exit), `waiter ${i}`).toBe(
          `SessionTornDown: operator session ${session.sid} was torn down (deleted by its owner)`
        )
      }
      expect(yield* session.pending).toEqual([])
    }))

  it.scoped("a request whose registration overlaps the teardown fails too instead of waiting forever", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      yield* session.replaceOutbound
      const stop = yield* makeStop
      const clock = yield* stoppingClock(stop.pass)
      const call = yield* Effect.fork(session.request(askBody("racing the teardown")).pipe(Effect.withClock(clock)))
      yield* stop.reached
      yield* session.teardown("deleted by its owner")
      yield* stop.release
      const exit = yield* settled(call, "a request registered during the teardown")
      expect(tornDownMessage(exit)).toBe(
        `SessionTornDown: operator session ${session.sid} was torn down (before this request was sent)`
      )
      expect(yield* session.pending).toEqual([])
    }))

  it.scoped("closing the session's scope fails a waiting caller at once", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid()).pipe(Effect.scoped, Effect.fork, Effect.flatMap(Fiber.join))
      // the scope above is closed already: the session is torn down and refuses new work
      expect(yield* session.state).toBe("torn_down")
      const late = yield* Effect.fork(session.request(askBody("after close")))
      const exit = yield* settled(late, "a request made after the scope closed")
      expect(tornDownMessage(exit)).toMatch(/^SessionTornDown: operator session S-[0-9a-f]{32} was torn down \(/)
    }))
})

describe("redelivery order", () => {
  it.scoped("pending requests are redelivered in the order they were issued, whatever their kind or req_id", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const first = yield* session.replaceOutbound
      // req_ids chosen so that sorting by id would give another order than issuing
      const issued = ["zz-3", "aa-1", "mm-2", "bb-0"]
      const bodies = [spawnBody(), askBody("q"), hookBody(), askBody("r")]
      for (const [i, reqId] of issued.entries()) {
        yield* Effect.fork(session.request(bodies[i]!, { reqId }))
        yield* waitForPending(session, i + 1)
      }
      const sent = (yield* drain(first)).filter(isRequest).map((f) => f.req_id)
      expect(sent).toEqual(issued)
      yield* session.clearOutboundIf(first)
      const again = (yield* drain(yield* session.replaceOutbound)) as ReadonlyArray<ServerFrame>
      expect(again.filter(isRequest).map((f) => f.req_id)).toEqual(issued)
    }))
})

/** Survivors of the first mutation run of OperatorSession.ts, as behaviour. */
describe("session details the first mutation run found unpinned", () => {
  const failure = (exit: Exit.Exit<unknown, unknown>) =>
    Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) as Record<string, unknown> | undefined : undefined

  it.scoped("a req_id issued again takes the request over: the earlier call fails `superseded`, the newer one gets the reply", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      const queue = yield* session.replaceOutbound
      const earlier = yield* Effect.fork(session.request(askBody("first"), { reqId: "same-id" }))
      yield* waitForPending(session, 1)
      const newer = yield* Effect.fork(session.request(askBody("second"), { reqId: "same-id" }))
      const exit = yield* settled(earlier, "the superseded call")
      expect(failure(exit)).toMatchObject({
        _tag: "RequestWithdrawn",
        reqId: "same-id",
        reason: "superseded",
        message: "request same-id was issued again; the earlier call no longer waits for it"
      })
      // the earlier call's clean-up must not take the newer call's entry with it
      expect((yield* session.pending).map((p) => p.reqId)).toEqual(["same-id"])
      expect((yield* drain(queue)).filter(isRequest).map((f) => (f as { question?: unknown }).question)).toEqual(["first", "second"])
      expect(yield* session.resolve(answer("same-id", "for the second"))).toBe("resolved")
      expect(yield* Fiber.join(newer)).toEqual(answer("same-id", "for the second"))
    }))

  it.scoped("a hook_after sent to a queue that was shut down is reported as dropped", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
      const session = yield* OperatorSession.make(newSid())
      const dead = yield* session.replaceOutbound
      yield* Queue.shutdown(dead) // the socket's queue went away under the slot
      yield* session.notify({ type: "hook_after", task_id: StepId.make("ST-00000000000000aa"), agent: "critic", attempt: 1, result: 1 })
        .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      expect(logs).toEqual(["hook_after dropped: operator session is disconnected"])
    }))

  it.scoped("refusals name their reason: attach after teardown, withdrawal, scope closed", () =>
    Effect.gen(function*() {
      const session = yield* OperatorSession.make(newSid())
      yield* session.replaceOutbound
      const run = RunId.make("R-0000000000000001")
      const call = yield* Effect.fork(session.request(askBody("q"), { reqId: "wd-1", runId: run }))
      yield* waitForPending(session, 1)
      expect(yield* session.withdraw({ run_id: run }, "seat_taken_over")).toBe(1)
      expect(failure(yield* settled(call, "the withdrawn call"))).toMatchObject({
        _tag: "RequestWithdrawn",
        message: "request wd-1 was withdrawn (seat_taken_over)"
      })
      yield* session.teardown("deleted by its owner")
      expect(failure(yield* Effect.exit(session.replaceOutbound))).toMatchObject({
        _tag: "SessionTornDown",
        message: `operator session ${session.sid} was torn down (a socket attached after teardown)`
      })

      const scoped = yield* Effect.scoped(Effect.gen(function*() {
        const s = yield* OperatorSession.make(newSid())
        const waiting = yield* Effect.forkDaemon(s.request(askBody("q")))
        yield* waitForPending(s, 1)
        return { s, waiting }
      }))
      expect(failure(yield* settled(scoped.waiting, "a call on a session whose scope closed"))).toMatchObject({
        _tag: "SessionTornDown",
        message: `operator session ${scoped.s.sid} was torn down (its scope was closed)`
      })
    }))
})
