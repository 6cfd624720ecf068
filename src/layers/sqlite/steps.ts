/** StepRepo on SQLite: the whole step record (submission and staged parts included) in one row. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { StepRepo, type StepRepoShape } from "../../services/repos/StepRepo.js"
import { documentCodec } from "./documents.js"
import { StepRecord as StepRecordSchema } from "../../protocol/records.js"

const codec = documentCodec(StepRecordSchema)

interface Row {
  readonly step_id: string
  readonly doc: string
}

const where = (r: Row) => `steps ${r.step_id}`

export const StepRepoSqlite: Layer.Layer<StepRepo, never, SqlClient.SqlClient> = Layer.effect(
  StepRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: StepRepoShape = {
      put: (step) =>
        Effect.suspend(() =>
          sql`INSERT INTO steps (step_id, run_id, doc) VALUES (${step.step_id}, ${step.run_id}, ${codec.encode(step)})
              ON CONFLICT (step_id) DO UPDATE SET run_id = excluded.run_id, doc = excluded.doc`
        ).pipe(Effect.orDie, Effect.asVoid),
      get: (stepId) =>
        sql<Row>`SELECT step_id, doc FROM steps WHERE step_id = ${stepId}`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : codec.decode(where(rows[0]), rows[0].doc))
        ),
      listByRun: (runId) =>
        sql<Row>`SELECT step_id, doc FROM steps WHERE run_id = ${runId} ORDER BY n`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => codec.decodeAll(rows, where, (r) => r.doc))
        )
    }
    return repo
  })
)
