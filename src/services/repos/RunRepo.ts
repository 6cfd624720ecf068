/**
 * Runs: one execution of a task. The record is the durable part of a run; the live part
 * (fiber, seat waiters) stays in the Runs service.
 */
import { Context, Effect, Layer, Option } from "effect"

export type RunStatus = "running" | "done" | "failed" | "cancelled" | "interrupted"

export const isRunEnded = (status: RunStatus): boolean =>
  status === "done" || status === "failed" || status === "cancelled"

export interface RunError {
  readonly message: string
  readonly failed_step?: string
  readonly step_value?: unknown
}

export interface SeatRecord {
  readonly sid: string
  /** Counts every seating of this seat in this run, from 1. */
  readonly generation: number
}

export interface RunRecord {
  readonly run_id: string
  readonly task_id: string
  readonly status: RunStatus
  /** ISO 8601. */
  readonly created_at: string
  readonly finished_at?: string
  readonly input: unknown
  readonly result?: unknown
  readonly error?: RunError
  /** Every declared seat; `null` while empty. */
  readonly seats: Readonly<Record<string, SeatRecord | null>>
}

export interface RunListQuery {
  readonly status?: RunStatus
  readonly limit?: number
}

export interface RunRepoShape {
  /** Insert or replace. */
  readonly put: (run: RunRecord) => Effect.Effect<void>
  readonly get: (runId: string) => Effect.Effect<Option.Option<RunRecord>>
  /** Newest first. */
  readonly list: (query: RunListQuery) => Effect.Effect<ReadonlyArray<RunRecord>>
  /** Oldest first. */
  readonly listByTask: (taskId: string) => Effect.Effect<ReadonlyArray<RunRecord>>
}

export class RunRepo extends Context.Tag("swarmgate/RunRepo")<RunRepo, RunRepoShape>() {
  static readonly memory: Layer.Layer<RunRepo> = Layer.sync(RunRepo, () => {
    // Map keeps first-insertion order, which is creation order
    const store = new Map<string, RunRecord>()
    return {
      put: (run) => Effect.sync(() => void store.set(run.run_id, run)),
      get: (runId) => Effect.sync(() => Option.fromNullable(store.get(runId))),
      list: ({ limit, status }) =>
        Effect.sync(() => {
          const runs = [...store.values()].reverse().filter((r) => status === undefined || r.status === status)
          return limit === undefined ? runs : runs.slice(0, limit)
        }),
      listByTask: (taskId) => Effect.sync(() => [...store.values()].filter((r) => r.task_id === taskId))
    }
  })
}
