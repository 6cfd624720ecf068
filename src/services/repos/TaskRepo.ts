/**
 * Tasks: one work item made from a blueprint (snapshotted, so later edits of the stored
 * blueprint do not change a task) and an input.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { TaskId } from "../../protocol/ids.js"
import type { TaskRecord } from "../../protocol/records.js"

export type { TaskRecord }

export interface TaskRepoShape {
  readonly insert: (task: TaskRecord) => Effect.Effect<void>
  readonly get: (taskId: TaskId) => Effect.Effect<Option.Option<TaskRecord>>
  /** Newest first. */
  readonly list: Effect.Effect<ReadonlyArray<TaskRecord>>
}

export class TaskRepo extends Context.Tag("swarmgate/TaskRepo")<TaskRepo, TaskRepoShape>() {
  static readonly memory: Layer.Layer<TaskRepo> = Layer.sync(TaskRepo, () => {
    // insertion order doubles as creation order (timestamps can tie under TestClock)
    const store = new Map<TaskId, TaskRecord>()
    return {
      insert: (task) => Effect.sync(() => void store.set(task.task_id, task)),
      get: (taskId) => Effect.sync(() => Option.fromNullable(store.get(taskId))),
      list: Effect.sync(() => [...store.values()].reverse())
    }
  })
}
