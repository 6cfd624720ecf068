/**
 * The per-run event log behind `GET /v1/runs/:id/events`. `seq` counts from 1 per run and
 * is assigned by `append`, so replay order is storage order.
 */
import { Context, Effect, Layer } from "effect"

export type RunEventType =
  | "run_started"
  | "step_started"
  | "step_status"
  | "request_sent"
  | "request_answered"
  | "step_finished"
  | "run_finished"
  /** The server stopped while the run was live; it goes on when resumed. */
  | "run_interrupted"

export interface RunEvent {
  readonly seq: number
  readonly type: RunEventType
  readonly run_id: string
  /** ISO 8601. */
  readonly at: string
  readonly step_id?: string
  readonly ref?: string
  readonly attempt?: number
  readonly req_id?: string
  /** Request kind: `ask`, `hook_before`, `hook_after`, `spawn`. */
  readonly kind?: string
  readonly sid?: string
  /** Run status (run_*), step status (step_*), or `ok`/`error` (request_answered). */
  readonly status?: string
  readonly message?: string
}

export type NewRunEvent = Omit<RunEvent, "seq">

export interface EventRepoShape {
  readonly append: (event: NewRunEvent) => Effect.Effect<RunEvent>
  /** Oldest first; only events with seq > afterSeq when given. */
  readonly list: (runId: string, afterSeq?: number) => Effect.Effect<ReadonlyArray<RunEvent>>
}

export class EventRepo extends Context.Tag("swarmgate/EventRepo")<EventRepo, EventRepoShape>() {
  static readonly memory: Layer.Layer<EventRepo> = Layer.sync(EventRepo, () => {
    const store = new Map<string, Array<RunEvent>>()
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
