/**
 * The run event log (`GET /v1/runs/:id/events`): appended through the EventRepo (which
 * assigns `seq`) and broadcast to live followers. `stream` replays the stored events, then
 * follows live ones, and ends after `run_finished`, or after `run_interrupted` (the server is
 * stopping; a follower that comes back after a resume replays and follows again).
 */
import { Clock, Context, Effect, Layer, PubSub, Stream } from "effect"
import type { RunId } from "../protocol/ids.js"
import { EventRepo, type NewRunEvent, type RunEvent } from "./repos/EventRepo.js"

export type EventInput = Omit<NewRunEvent, "at">

export interface RunEventsShape {
  readonly publish: (event: EventInput) => Effect.Effect<RunEvent>
  readonly stream: (runId: RunId) => Stream.Stream<RunEvent>
}

export class RunEvents extends Context.Tag("swarmgate/RunEvents")<RunEvents, RunEventsShape>() {
  static readonly layer: Layer.Layer<RunEvents, never, EventRepo> = Layer.scoped(
    RunEvents,
    Effect.gen(function*() {
      const repo = yield* EventRepo
      const hub = yield* Effect.acquireRelease(PubSub.unbounded<RunEvent>(), PubSub.shutdown)
      // seq assignment and broadcast happen together, so live followers see seq order
      const lock = yield* Effect.makeSemaphore(1)

      const publish = (event: EventInput) =>
        lock.withPermits(1)(Effect.gen(function*() {
          const at = new Date(yield* Clock.currentTimeMillis).toISOString()
          const stored = yield* repo.append({ ...event, at })
          yield* PubSub.publish(hub, stored)
          return stored
        }))

      const stream = (runId: RunId): Stream.Stream<RunEvent> =>
        Stream.unwrapScoped(Effect.gen(function*() {
          // subscribe before reading the log so nothing falls between replay and live
          const live = yield* PubSub.subscribe(hub)
          const past = yield* repo.list(runId)
          const last = past.at(-1)?.seq ?? 0
          const replay = Stream.fromIterable(past)
          if (past.some((e) => e.type === "run_finished") || past.at(-1)?.type === "run_interrupted") return replay
          return Stream.concat(
            replay,
            Stream.fromQueue(live).pipe(
              Stream.filter((e) => e.run_id === runId && e.seq > last),
              Stream.takeUntil((e) => e.type === "run_finished" || e.type === "run_interrupted")
            )
          )
        }))

      return { publish, stream }
    })
  )
}
