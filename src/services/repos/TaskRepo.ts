/**
 * Tasks: one work item made from a blueprint (snapshotted, so later edits of the stored
 * blueprint do not change a task) and an input.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Blueprint } from "../../protocol/blueprint.js"

export interface TaskRecord {
  readonly task_id: string
  /** The stored blueprint's id, or the inline blueprint's own `id` (`"inline"` when it has none). */
  readonly blueprint_id: string
  /** Version of the stored blueprint; absent for an inline blueprint. */
  readonly blueprint_version?: number
  readonly blueprint: Blueprint
  /** ISO 8601. */
  readonly created_at: string
}

export interface TaskRepoShape {
  readonly insert: (task: TaskRecord) => Effect.Effect<void>
  readonly get: (taskId: string) => Effect.Effect<Option.Option<TaskRecord>>
  /** Newest first. */
  readonly list: Effect.Effect<ReadonlyArray<TaskRecord>>
}

export class TaskRepo extends Context.Tag("swarmgate/TaskRepo")<TaskRepo, TaskRepoShape>() {
  static readonly memory: Layer.Layer<TaskRepo> = Layer.sync(TaskRepo, () => {
    // insertion order doubles as creation order (timestamps can tie under TestClock)
    const store = new Map<string, TaskRecord>()
    return {
      insert: (task) => Effect.sync(() => void store.set(task.task_id, task)),
      get: (taskId) => Effect.sync(() => Option.fromNullable(store.get(taskId))),
      list: Effect.sync(() => [...store.values()].reverse())
    }
  })
}
