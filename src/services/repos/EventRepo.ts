/**
 * The per-run event log behind `GET /v1/runs/:id/events`. `seq` counts from 1 per run and
 * is assigned by `append`, so replay order is storage order.
 */
import { Context, Effect, Layer } from "effect"
import type { RunId } from "../../protocol/ids.js"
import type { NewRunEvent, RunEvent, RunEventType } from "../../protocol/records.js"

export type { NewRunEvent, RunEvent, RunEventType }

export interface EventRepoShape {
  readonly append: (event: NewRunEvent) => Effect.Effect<RunEvent>
  /** Oldest first; only events with seq > afterSeq when given. */
  readonly list: (runId: RunId, afterSeq?: number) => Effect.Effect<ReadonlyArray<RunEvent>>
}

export class EventRepo extends Context.Tag("swarmgate/EventRepo")<EventRepo, EventRepoShape>() {
  static readonly memory: Layer.Layer<EventRepo> = Layer.sync(EventRepo, () => {
    const store = new Map<RunId, Array<RunEvent>>()
    return {
      append: (event) =>
        Effect.sync(() => {
          const log = store.get(event.run_id) ?? []
          const full: RunEvent = { ...event, seq: log.length + 1 }
          log.push(full)
          store.set(event.run_id, log)
          return full
        }),
      list: (runId, afterSeq) =>
        Effect.sync(() => {
          const log = store.get(runId) ?? []
          return afterSeq === undefined ? [...log] : log.filter((e) => e.seq > afterSeq)
        })
    }
  })
}
