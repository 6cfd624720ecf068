/**
 * The per-run event log behind `GET /v1/runs/:id/events`. `seq` counts from 1 per run.
 * RunEvents numbers the events of a run itself (one writer per run) and stores them with
 * their `seq`, possibly out of order when steps of a fanout publish at once; without a
 * `seq`, `append` gives the next one of the run. `list` is always in `seq` order.
 */
import { Context, Effect, Layer } from "effect"
import type { RunId } from "../../protocol/ids.js"
import type { NewRunEvent, RunEvent, RunEventType } from "../../protocol/records.js"

export type { NewRunEvent, RunEvent, RunEventType }

export interface EventRepoShape {
  /** Store an event: as numbered when it has a `seq`, else as the next of its run. */
  readonly append: (event: NewRunEvent | RunEvent) => Effect.Effect<RunEvent>
  /** Oldest first; only events with seq > afterSeq when given. */
  readonly list: (runId: RunId, afterSeq?: number) => Effect.Effect<ReadonlyArray<RunEvent>>
  /** The highest stored `seq` of the run, 0 when it has none. */
  readonly lastSeq: (runId: RunId) => Effect.Effect<number>
}

const hasSeq = (e: NewRunEvent | RunEvent): e is RunEvent => typeof (e as { seq?: unknown }).seq === "number"

export class EventRepo extends Context.Tag("swarmgate/EventRepo")<EventRepo, EventRepoShape>() {
  static readonly memory: Layer.Layer<EventRepo> = Layer.sync(EventRepo, () => {
    const store = new Map<RunId, Array<RunEvent>>()
    return {
      append: (event) =>
        Effect.sync(() => {
          let log = store.get(event.run_id)
          if (log === undefined) store.set(event.run_id, log = [])
          const full: RunEvent = hasSeq(event) ? event : { ...event, seq: (log.at(-1)?.seq ?? 0) + 1 }
          // kept sorted: an event numbered earlier may arrive a little later
          let i = log.length
          while (i > 0 && log[i - 1]!.seq > full.seq) i--
          log.splice(i, 0, full)
          return full
        }),
      list: (runId, afterSeq) =>
        Effect.sync(() => {
          const log = store.get(runId) ?? []
          return afterSeq === undefined ? [...log] : log.filter((e) => e.seq > afterSeq)
        }),
      lastSeq: (runId) => Effect.sync(() => store.get(runId)?.at(-1)?.seq ?? 0)
    }
  })
}
