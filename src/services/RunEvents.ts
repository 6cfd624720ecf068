/**
 * The run event log (`GET /v1/runs/:id/events`): numbered here, one counter per run (the
 * run's single writer), broadcast to live followers and stored through the EventRepo.
 * `stream` replays the stored events, then follows live ones, and ends after
 * `run_finished`, or after `run_interrupted` (the server is stopping; a follower that comes
 * back after a resume replays and follows again).
 *
 * No lock per event: numbering and broadcasting happen in one synchronous step, so the live
 * feed is in `seq` order; the write follows. An event is kept in `unstored` from its number
 * until its write is done, so a follower that joins meanwhile finds it there.
 */
import { Clock, Context, Effect, Layer, PubSub, Stream } from "effect"
import type { RunId } from "../protocol/ids.js"
import { EventRepo, type NewRunEvent, type RunEvent } from "./repos/EventRepo.js"
import { makeEventObserver } from "./Telemetry.js"

export type EventInput = Omit<NewRunEvent, "at">

export interface RunEventsShape {
  /** Stamped `at` (a caller that just read the Clock passes its reading), numbered, stored. */
  readonly publish: (event: EventInput, at?: string) => Effect.Effect<RunEvent>
  readonly stream: (runId: RunId) => Stream.Stream<RunEvent>
}

const isLast = (e: RunEvent) => e.type === "run_finished" || e.type === "run_interrupted"

/**
 * The replay: stored and in-flight events up to the first missing `seq`. An event missing
 * there was numbered after the follower subscribed, so it and all after it come live.
 */
export const contiguous = (stored: ReadonlyArray<RunEvent>, inFlight: ReadonlyArray<RunEvent>): Array<RunEvent> => {
  const bySeq = new Map<number, RunEvent>()
  for (const e of stored) bySeq.set(e.seq, e)
  for (const e of inFlight) if (!bySeq.has(e.seq)) bySeq.set(e.seq, e)
  const out: Array<RunEvent> = []
  // every log starts at 1
  for (let seq = 1; bySeq.has(seq); seq++) out.push(bySeq.get(seq)!)
  return out
}

export class RunEvents extends Context.Tag("swarmgate/RunEvents")<RunEvents, RunEventsShape>() {
  static readonly layer: Layer.Layer<RunEvents, never, EventRepo> = Layer.scoped(
    RunEvents,
    Effect.gen(function*() {
      const repo = yield* EventRepo
      const hub = yield* Effect.acquireRelease(PubSub.unbounded<RunEvent>(), PubSub.shutdown)
      // the last seq given per run; dropped when the run says it ended (re-read if it goes on)
      const counters = new Map<RunId, number>()
      // numbered and broadcast, write not done yet
      const unstored = new Map<RunId, Map<number, RunEvent>>()
      // run/step log lines and metrics come from the events, so the engine logs in one place
      const observe = makeEventObserver()

      const highestUnstored = (runId: RunId) => {
        let max = 0
        for (const seq of unstored.get(runId)?.keys() ?? []) max = Math.max(max, seq)
        return max
      }

      const counted = (runId: RunId): Effect.Effect<void> =>
        counters.has(runId) ? Effect.void : Effect.flatMap(repo.lastSeq(runId), (stored) =>
          Effect.sync(() => {
            if (!counters.has(runId)) counters.set(runId, Math.max(stored, highestUnstored(runId)))
          }))

      /** Number, remember and broadcast in one synchronous step (no other publish runs in between). */
      const number = (event: EventInput, at: string): RunEvent => {
        const seq = counters.get(event.run_id)! + 1
        const numbered: RunEvent = { ...event, at, seq }
        const last = isLast(numbered)
        if (last) counters.delete(event.run_id)
        else counters.set(event.run_id, seq)
        let pending = unstored.get(event.run_id)
        if (pending === undefined) unstored.set(event.run_id, pending = new Map())
        pending.set(seq, numbered)
        hub.unsafeOffer(numbered)
        return numbered
      }

      // a run's map stays while the run counts (no map per event); dropped once it ended and drained
      const stored = (e: RunEvent) =>
        Effect.sync(() => {
          const pending = unstored.get(e.run_id)
          pending?.delete(e.seq)
          if (pending?.size === 0 && !counters.has(e.run_id)) unstored.delete(e.run_id)
        })

      const write = (event: EventInput, at: string) =>
        Effect.suspend(() => {
          const numbered = number(event, at)
          return repo.append(numbered).pipe(
            Effect.ensuring(stored(numbered)),
            Effect.zipRight(observe(numbered)),
            Effect.as(numbered)
          )
        })

      const publish = (event: EventInput, at?: string): Effect.Effect<RunEvent> =>
        Effect.zipRight(
          counted(event.run_id),
          at !== undefined
            ? write(event, at)
            : Effect.flatMap(Clock.currentTimeMillis, (ms) => write(event, new Date(ms).toISOString()))
        )

      const stream = (runId: RunId): Stream.Stream<RunEvent> =>
        Stream.unwrapScoped(Effect.gen(function*() {
          // subscribe, then look at what is in flight, then read the log: nothing falls between
          const live = yield* PubSub.subscribe(hub)
          const inFlight = [...(unstored.get(runId)?.values() ?? [])]
          const past = contiguous(yield* repo.list(runId), inFlight)
          const last = past.at(-1)?.seq ?? 0
          const replay = Stream.fromIterable(past)
          if (past.some((e) => e.type === "run_finished") || past.at(-1)?.type === "run_interrupted") return replay
          return Stream.concat(
            replay,
            Stream.fromQueue(live).pipe(
              Stream.filter((e) => e.run_id === runId && e.seq > last),
              Stream.takeUntil(isLast)
            )
          )
        }))

      return { publish, stream }
    })
  )
}
