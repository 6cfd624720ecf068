/**
 * The timing logic of the socket keepalive (protocol.md §7) and the idle sweep, under
 * TestClock. (Unit-level, kept beside the e2e suites of the same code.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { type KeepaliveSweep, makeKeepaliveSweep } from "../../src/http/keepalive.js"
import { IdleSweepLive } from "../../src/layers/App.js"
import { ServerConfig } from "../../src/layers/ServerConfig.js"
import { SessionRepo } from "../../src/services/repos/SessionRepo.js"
import { Sessions } from "../../src/services/Sessions.js"

/** One socket watched by the sweep; `fiber` completes when the sweep gives it up. */
const watchOne = (sweep: KeepaliveSweep) =>
  Effect.gen(function*() {
    let pings = 0
    let ticks = 0
    const silent = yield* Deferred.make<void>()
    const keepalive = sweep.watch({
      ping: () => void pings++,
      onAliveTick: () => void ticks++,
      onSilent: () => Deferred.unsafeDone(silent, Effect.void)
    })
    const fiber = yield* Effect.fork(Deferred.await(silent))
    return { keepalive, fiber, pings: () => pings, ticks: () => ticks }
  })

const setup = Effect.gen(function*() {
  const sweep = yield* makeKeepaliveSweep({ pingEvery: "30 seconds", silentAfter: "150 seconds" })
  yield* Effect.forkScoped(sweep.run)
  return yield* watchOne(sweep)
})

describe("keepalive", () => {
  it.scoped("pings every 30 s and gives a silent peer up at exactly 150 s", () =>
    Effect.gen(function*() {
      const k = yield* setup
      yield* TestClock.adjust("29 seconds")
      expect(k.pings()).toBe(0)
      yield* TestClock.adjust("1 second")
      expect(k.pings()).toBe(1)
      expect(k.ticks()).toBe(1)
      yield* TestClock.adjust("119999 millis")
      expect(k.pings()).toBe(4)
      expect(k.fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(Option.isSome(Option.fromNullable(k.fiber.unsafePoll()))).toBe(true)
      yield* Fiber.join(k.fiber)
      // no ping at the moment it was given up
      expect(k.pings()).toBe(4)
    }))

  it.scoped("any sign of life moves the deadline to 150 s after it", () =>
    Effect.gen(function*() {
      const k = yield* setup
      yield* TestClock.adjust("100 seconds")
      k.keepalive.alive()
      yield* TestClock.adjust("149 seconds")
      expect(k.fiber.unsafePoll()).toBeNull()
      expect(k.pings()).toBe(8) // 30, 60, ..., 240
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(k.fiber)
    }))

  it.scoped("a peer that keeps answering is never given up", () =>
    Effect.gen(function*() {
      const k = yield* setup
      for (let i = 0; i < 100; i++) {
        yield* TestClock.adjust("30 seconds")
        k.keepalive.alive() // the pong
      }
      expect(k.fiber.unsafePoll()).toBeNull()
      expect(k.pings()).toBe(100)
      yield* Fiber.interrupt(k.fiber)
    }))
})

describe("one keepalive sweep for many sockets", () => {
  it.scoped("keeps each socket's own times, and a removed socket is neither pinged nor given up", () =>
    Effect.gen(function*() {
      const sweep = yield* makeKeepaliveSweep({ pingEvery: "30 seconds", silentAfter: "150 seconds" })
      yield* Effect.forkScoped(sweep.run)
      const a = yield* watchOne(sweep)
      yield* TestClock.adjust("10 seconds")
      const b = yield* watchOne(sweep)
      const c = yield* watchOne(sweep)
      expect(sweep.size()).toBe(3)
      yield* TestClock.adjust("20 seconds") // t = 30
      expect([a.pings(), b.pings(), c.pings()]).toEqual([1, 0, 0])
      yield* TestClock.adjust("10 seconds") // t = 40
      expect([a.pings(), b.pings(), c.pings()]).toEqual([1, 1, 1])
      c.keepalive.remove()
      yield* TestClock.adjust("110 seconds") // t = 150
      expect(Option.isSome(Option.fromNullable(a.fiber.unsafePoll()))).toBe(true)
      expect(b.fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("10 seconds") // t = 160
      expect(Option.isSome(Option.fromNullable(b.fiber.unsafePoll()))).toBe(true)
      expect(c.fiber.unsafePoll()).toBeNull()
      expect(c.pings()).toBe(1)
      expect(sweep.size()).toBe(0)
      yield* Fiber.interrupt(c.fiber)
    }))
})

describe("idle sweep", () => {
  const layer = IdleSweepLive.pipe(
    Layer.provideMerge(Sessions.layer({ idleHorizon: "24 hours" })),
    Layer.provide(SessionRepo.memory),
    Layer.provideMerge(ServerConfig.layer({ idle: { horizon: "24 hours", sweepEvery: "5 minutes" } }))
  )

  it.scoped("expires a disconnected session idle past the horizon at the next sweep", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const idle = yield* sessions.login("idle")
      yield* TestClock.adjust("23 hours")
      const busy = yield* sessions.login("busy")
      yield* TestClock.adjust("1 hour")
      // exactly at the horizon: not yet over it
      expect(Option.isSome(yield* sessions.get(idle.sid))).toBe(true)
      yield* TestClock.adjust("5 minutes")
      expect(Option.isNone(yield* sessions.get(idle.sid))).toBe(true)
      expect(Option.isSome(yield* sessions.get(busy.sid))).toBe(true)
    }).pipe(Effect.provide(layer)))
})
