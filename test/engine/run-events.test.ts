/**
 * RunEvents numbers a run's events without a lock: the live feed is in seq order, and a
 * follower that joins while an event is still being written gets it in its replay, once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Random, Stream } from "effect"
import { RunId } from "../../src/protocol/ids.js"
import { EventRepo, type RunEvent } from "../../src/services/repos/EventRepo.js"
import { contiguous, RunEvents } from "../../src/services/RunEvents.js"

const RUN = RunId.make("R-00000000000000e1")
const ev = (seq: number, type: RunEvent["type"] = "step_started"): RunEvent => ({ type, run_id: RUN, at: "t", seq })

/** The memory repo, with the write of the event numbered `holdSeq` stopped until `release`. */
const heldRepo = (holdSeq: number, reached: Deferred.Deferred<void>, release: Deferred.Deferred<void>) =>
  Layer.effect(
    EventRepo,
    Effect.map(EventRepo, (inner) => ({
      ...inner,
      append: (event: Parameters<typeof inner.append>[0]) =>
        "seq" in event && event.seq === holdSeq
          ? Effect.zipRight(Effect.zipRight(Deferred.succeed(reached, undefined), Deferred.await(release)), inner.append(event))
          : inner.append(event)
    }))
  ).pipe(Layer.provide(EventRepo.memory))

/** The memory repo with writes that take a random number of scheduler turns, like real storage. */
const slowRepo = Layer.effect(
  EventRepo,
  Effect.map(EventRepo, (inner) => ({
    ...inner,
    append: (event: Parameters<typeof inner.append>[0]) =>
      Effect.zipRight(Effect.flatMap(Random.nextIntBetween(0, 4), (n) => Effect.repeatN(Effect.yieldNow(), n)), inner.append(event))
  }))
).pipe(Layer.provideMerge(EventRepo.memory))

describe("RunEvents", () => {
  it("the replay is stored and in-flight events up to the first missing seq", () => {
    expect(contiguous([ev(1), ev(2), ev(4)], [ev(3), ev(5)]).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    expect(contiguous([ev(1), ev(3)], []).map((e) => e.seq)).toEqual([1])
    expect(contiguous([ev(2)], []).map((e) => e.seq)).toEqual([])
    expect(contiguous([ev(1)], [ev(1), ev(2)]).map((e) => e.seq)).toEqual([1, 2])
  })

  it.scoped("a follower joining while an event is being written replays it once, then follows", () =>
    Effect.gen(function*() {
      const reached = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const events = yield* RunEvents
        yield* events.publish({ type: "run_started", run_id: RUN })
        // the second event's write is held: numbered and broadcast, not stored
        const second = yield* Effect.fork(events.publish({ type: "step_started", run_id: RUN, ref: "a" }))
        yield* Deferred.await(reached)
        const follower = yield* Effect.fork(Stream.runCollect(events.stream(RUN)))
        yield* Effect.yieldNow()
        yield* events.publish({ type: "step_finished", run_id: RUN, ref: "a" })
        yield* events.publish({ type: "run_finished", run_id: RUN, status: "done" })
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(second)
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(follower))
        expect(seen.map((e) => [e.seq, e.type])).toEqual([
          [1, "run_started"],
          [2, "step_started"],
          [3, "step_finished"],
          [4, "run_finished"]
        ])
      }).pipe(Effect.provide(RunEvents.layer.pipe(Layer.provide(heldRepo(2, reached, release)))))
    }))

  it.scoped("concurrent publishers: seq strictly increasing from 1, live and stored alike", () =>
    Effect.gen(function*() {
      const events = yield* RunEvents
      const repo = yield* EventRepo
      yield* events.publish({ type: "run_started", run_id: RUN })
      const follower = yield* Effect.fork(Stream.runCollect(events.stream(RUN)))
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) =>
          Effect.zipRight(
            Effect.flatMap(Random.nextIntBetween(0, 3), (n) => Effect.repeatN(Effect.yieldNow(), n)),
            events.publish({ type: "step_started", run_id: RUN, ref: `s${i}` })
          ),
        { concurrency: "unbounded", discard: true }
      )
      yield* events.publish({ type: "run_finished", run_id: RUN, status: "done" })
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(follower)).map((e) => e.seq)
      const all = Array.from({ length: 202 }, (_, i) => i + 1)
      expect(seen).toEqual(all)
      expect((yield* repo.list(RUN)).map((e) => e.seq)).toEqual(all)
    }).pipe(Effect.provide(RunEvents.layer.pipe(Layer.provideMerge(slowRepo)))))
})
