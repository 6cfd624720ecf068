/** TaskRepo and RunRepo on SQLite; `n` (the rowid) keeps creation order. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { RunRepo, type RunRepoShape } from "../../services/repos/RunRepo.js"
import { TaskRepo, type TaskRepoShape } from "../../services/repos/TaskRepo.js"
import { documentCodec } from "./documents.js"
import { RunRecord as RunRecordSchema, TaskRecord as TaskRecordSchema } from "../../protocol/records.js"

const tasks = documentCodec(TaskRecordSchema)
const runs = documentCodec(RunRecordSchema)

interface TaskRow {
  readonly task_id: string
  readonly doc: string
}
interface RunRow {
  readonly run_id: string
  readonly doc: string
}

const taskWhere = (r: TaskRow) => `tasks ${r.task_id}`
const runWhere = (r: RunRow) => `runs ${r.run_id}`

export const TaskRepoSqlite: Layer.Layer<TaskRepo, never, SqlClient.SqlClient> = Layer.effect(
  TaskRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: TaskRepoShape = {
      insert: (task) =>
        Effect.suspend(() => sql`INSERT INTO tasks (task_id, doc) VALUES (${task.task_id}, ${tasks.encode(task)})`).pipe(
          Effect.orDie,
          Effect.asVoid
        ),
      get: (taskId) =>
        sql<TaskRow>`SELECT task_id, doc FROM tasks WHERE task_id = ${taskId}`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : tasks.decode(taskWhere(rows[0]), rows[0].doc))
        ),
      list: sql<TaskRow>`SELECT task_id, doc FROM tasks ORDER BY n DESC`.pipe(
        Effect.orDie,
        Effect.flatMap((rows) => tasks.decodeAll(rows, taskWhere, (r) => r.doc))
      )
    }
    return repo
  })
)

export const RunRepoSqlite: Layer.Layer<RunRepo, never, SqlClient.SqlClient> = Layer.effect(
  RunRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const decodeAll = (rows: ReadonlyArray<RunRow>) => runs.decodeAll(rows, runWhere, (r) => r.doc)
    const repo: RunRepoShape = {
      put: (run) =>
        Effect.suspend(() =>
          sql`INSERT INTO runs (run_id, task_id, status, doc) VALUES (${run.run_id}, ${run.task_id}, ${run.status}, ${
            runs.encode(run)
          })
              ON CONFLICT (run_id) DO UPDATE SET task_id = excluded.task_id, status = excluded.status, doc = excluded.doc`
        ).pipe(Effect.orDie, Effect.asVoid),
      get: (runId) =>
        sql<RunRow>`SELECT run_id, doc FROM runs WHERE run_id = ${runId}`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : runs.decode(runWhere(rows[0]), rows[0].doc))
        ),
      list: ({ limit, status }) =>
        // -1: no limit in SQLite
        (status === undefined
          ? sql<RunRow>`SELECT run_id, doc FROM runs ORDER BY n DESC LIMIT ${limit ?? -1}`
          : sql<RunRow>`SELECT run_id, doc FROM runs WHERE status = ${status} ORDER BY n DESC LIMIT ${limit ?? -1}`).pipe(
            Effect.orDie,
            Effect.flatMap(decodeAll)
          ),
      listByTask: (taskId) =>
        sql<RunRow>`SELECT run_id, doc FROM runs WHERE task_id = ${taskId} ORDER BY n`.pipe(
          Effect.orDie,
          Effect.flatMap(decodeAll)
        )
    }
    return repo
  })
)
