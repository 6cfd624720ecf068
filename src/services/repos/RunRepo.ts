/**
 * Runs: one execution of a task. The record is the durable part of a run; the live part
 * (fiber) stays in the run lifecycle service, the seats in SeatRepo.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { RunId, TaskId } from "../../protocol/ids.js"
import { isRunEnded, type RunError, type RunRecord, type RunStatus } from "../../protocol/records.js"

export { isRunEnded }
export type { RunError, RunRecord, RunStatus }

export interface RunListQuery {
  readonly status?: RunStatus
  readonly limit?: number
}

export interface RunRepoShape {
  /** Insert or replace. */
  readonly put: (run: RunRecord) => Effect.Effect<void>
  readonly get: (runId: RunId) => Effect.Effect<Option.Option<RunRecord>>
  /** Newest first. */
  readonly list: (query: RunListQuery) => Effect.Effect<ReadonlyArray<RunRecord>>
  /** Oldest first. */
  readonly listByTask: (taskId: TaskId) => Effect.Effect<ReadonlyArray<RunRecord>>
}

export class RunRepo extends Context.Tag("swarmgate/RunRepo")<RunRepo, RunRepoShape>() {
  static readonly memory: Layer.Layer<RunRepo> = Layer.sync(RunRepo, () => {
    // Map keeps first-insertion order, which is creation order
    const store = new Map<RunId, RunRecord>()
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
