/** The shared-prototype Deferred behaves as Effect's own under every Deferred operation. */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FiberId, Option } from "effect"
import { makeDeferred } from "../../src/services/session/sharedDeferred.js"

describe("makeDeferred", () => {
  it.effect("is a Deferred: succeed, await, poll, isDone", () =>
    Effect.gen(function*() {
      const d = makeDeferred<number, string>()
      expect(Deferred.DeferredTypeId in d).toBe(true)
      expect(yield* Deferred.isDone(d)).toBe(false)
      expect(Option.isNone(yield* Deferred.poll(d))).toBe(true)
      const waiter = yield* Effect.fork(Deferred.await(d))
      expect(yield* Deferred.succeed(d, 7)).toBe(true)
      expect(yield* Deferred.succeed(d, 8)).toBe(false)
      expect(yield* Fiber.join(waiter)).toBe(7)
      expect(yield* d).toBe(7)
      expect(yield* Deferred.isDone(d)).toBe(true)
    }))

  it.effect("fails, is interrupted, and keeps its joiners apart from other instances", () =>
    Effect.gen(function*() {
      const a = makeDeferred<number, string>()
      const b = makeDeferred<number, string>()
      const onA = yield* Effect.fork(Deferred.await(a))
      const onB = yield* Effect.fork(Deferred.await(b))
      yield* Effect.yieldNow()
      Deferred.unsafeDone(a, Effect.fail("nope"))
      expect(yield* Fiber.await(onA)).toEqual(Exit.fail("nope"))
      expect(onB.unsafePoll()).toBeNull()
      yield* Deferred.interruptWith(b, FiberId.none)
      expect(Exit.isInterrupted(yield* Fiber.await(onB))).toBe(true)
    }))
})
