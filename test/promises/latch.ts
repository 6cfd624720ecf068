/**
 * Deterministic interleavings for the promise tests: a storage write that stops, once, at
 * the moment a chosen record is about to be stored, until the test lets it go. The engine
 * and the worker verbs are the real ones; only the repository call is held.
 */
import { Deferred, Effect, Fiber, Layer, Option, Ref } from "effect"
import { EngineLive } from "../../src/layers/Engine.js"
import { EngineConfig } from "../../src/services/EngineConfig.js"
import { BlueprintRepo } from "../../src/services/repos/BlueprintRepo.js"
import { CapabilityRepo } from "../../src/services/repos/CapabilityRepo.js"
import { EventRepo, type NewRunEvent } from "../../src/services/repos/EventRepo.js"
import { OutputRepo } from "../../src/services/repos/OutputRepo.js"
import { RunRepo } from "../../src/services/repos/RunRepo.js"
import { SeatRepo } from "../../src/services/repos/SeatRepo.js"
import { SessionRepo } from "../../src/services/repos/SessionRepo.js"
import { type StepRecord, StepRepo } from "../../src/services/repos/StepRepo.js"
import { TaskRepo } from "../../src/services/repos/TaskRepo.js"
import { Transactions } from "../../src/services/repos/Transactions.js"
import { SessionDirectory } from "../../src/services/SessionDirectory.js"
import { Sessions } from "../../src/services/Sessions.js"

/** One armed stop: `reached` completes with the held value, the write goes on after `release`. */
export interface Held<A> {
  readonly reached: Deferred.Deferred<A>
  readonly release: Effect.Effect<void>
}

/** A one-shot stop for writes of `A`; the next write matching the armed predicate is held. */
export interface Latch<A> {
  readonly arm: (matches: (a: A) => boolean) => Effect.Effect<Held<A>>
  /** Called by the wrapped repository before it writes `a`. */
  readonly pass: (a: A) => Effect.Effect<void>
}

export const makeLatch = <A>(): Effect.Effect<Latch<A>> =>
  Effect.map(
    Ref.make(Option.none<{ matches: (a: A) => boolean; reached: Deferred.Deferred<A>; go: Deferred.Deferred<void> }>()),
    (armed) => ({
      arm: (matches) =>
        Effect.gen(function*() {
          const reached = yield* Deferred.make<A>()
          const go = yield* Deferred.make<void>()
          yield* Ref.set(armed, Option.some({ matches, reached, go }))
          return { reached, release: Deferred.succeed(go, undefined).pipe(Effect.asVoid) }
        }),
      pass: (a) =>
        Effect.flatMap(
          Ref.modify(armed, (slot) =>
            Option.isSome(slot) && slot.value.matches(a)
              ? [Option.some(slot.value), Option.none()]
              : [Option.none(), slot]),
          Option.match({
            onNone: () => Effect.void,
            onSome: ({ go, reached }) => Effect.zipRight(Deferred.succeed(reached, a), Deferred.await(go))
          })
        )
    })
  )

export class StepWrites extends Effect.Tag("test/StepWrites")<StepWrites, Latch<StepRecord>>() {}
export class EventWrites extends Effect.Tag("test/EventWrites")<EventWrites, Latch<NewRunEvent>>() {}

const latches = Layer.merge(Layer.effect(StepWrites, makeLatch<StepRecord>()), Layer.effect(EventWrites, makeLatch<NewRunEvent>()))

/** StepRepo.memory whose `put`s pass through the `StepWrites` latch. */
export const heldSteps = Layer.effect(
  StepRepo,
  Effect.gen(function*() {
    const inner = yield* StepRepo
    const latch = yield* StepWrites
    return { ...inner, put: (step) => Effect.zipRight(latch.pass(step), inner.put(step)) }
  })
).pipe(Layer.provide(StepRepo.memory))

const heldEvents = Layer.effect(
  EventRepo,
  Effect.gen(function*() {
    const inner = yield* EventRepo
    const latch = yield* EventWrites
    return { ...inner, append: (event) => Effect.zipRight(latch.pass(event), inner.append(event)) }
  })
).pipe(Layer.provide(EventRepo.memory))

/** The engine over memory storage whose step and event writes can be held. */
export const latchedEngine = EngineLive.pipe(
  Layer.provideMerge(SessionDirectory.fromSessions),
  Layer.provideMerge(Layer.orDie(Sessions.layer())),
  Layer.provideMerge(Layer.mergeAll(
    BlueprintRepo.memory,
    TaskRepo.memory,
    RunRepo.memory,
    SeatRepo.memory,
    heldSteps,
    heldEvents,
    OutputRepo.memory,
    CapabilityRepo.memory,
    SessionRepo.memory,
    Transactions.memory
  )),
  Layer.provideMerge(latches),
  Layer.provideMerge(EngineConfig.layer({ publicUrl: "http://engine.test:7777" }))
)

/** Waits (bounded by scheduler turns, not time) until `fiber` has finished or is parked waiting. */
export const parkedOrDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (let turn = 0; turn < 10_000; turn++) {
      yield* Effect.yieldNow()
      const status = yield* Fiber.status(fiber)
      if (status._tag !== "Running") return status._tag
    }
    return yield* Effect.dieMessage("the fiber neither finished nor parked")
  })

/** A wait that fails with `what` instead of hanging the test for its whole timeout. */
export const within = (what: string, ms = 5000) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: ms, onTimeout: () => new Error(`timed out after ${ms} ms: ${what}`) })
