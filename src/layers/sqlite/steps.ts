/**
 * StepRepo on SQLite: the whole step record (submission and staged parts included) in one row.
 *
 * The records of recently written steps are also kept in memory (write-through, bounded), so
 * the read before each step update (Steps reads, changes, writes) is not a query and a
 * decode. This is safe because the connection holds the file exclusively: no other writer
 * can change a row behind the cache. A transaction (Transactions, built here for that) that
 * fails drops the cache: a record it wrote may have been remembered but was rolled back.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Option } from "effect"
import type { StepId } from "../../protocol/ids.js"
import { StepRecord as StepRecordSchema } from "../../protocol/records.js"
import { type StepRecord, StepRepo, type StepRepoShape } from "../../services/repos/StepRepo.js"
import { Transactions } from "../../services/repos/Transactions.js"
import { documentCodec } from "./documents.js"

const codec = documentCodec(StepRecordSchema)

/** Steps in flight at once across every run; more only costs a query on the next read. */
const CACHED_STEPS = 4_096

interface Row {
  readonly step_id: string
  readonly doc: string
}

const where = (r: Row) => `steps ${r.step_id}`

export const StepRepoSqlite: Layer.Layer<StepRepo | Transactions, never, SqlClient.SqlClient> = Layer.effectContext(
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // Map order = least recently written first
    const recent = new Map<StepId, StepRecord>()
    const remember = (step: StepRecord) => {
      recent.delete(step.step_id)
      recent.set(step.step_id, step)
      if (recent.size > CACHED_STEPS) recent.delete(recent.keys().next().value!)
    }
    const repo: StepRepoShape = {
      put: (step) =>
        Effect.suspend(() =>
          sql`INSERT INTO steps (step_id, run_id, doc) VALUES (${step.step_id}, ${step.run_id}, ${codec.encode(step)})
              ON CONFLICT (step_id) DO UPDATE SET doc = excluded.doc`
        ).pipe(
          // only a committed record is remembered; a failed write leaves the cache as the file is
          Effect.tapErrorCause(() => Effect.sync(() => recent.delete(step.step_id))),
          Effect.orDie,
          Effect.zipRight(Effect.sync(() => remember(step)))
        ),
      get: (stepId) =>
        Effect.suspend(() => {
          const cached = recent.get(stepId)
          if (cached !== undefined) return Effect.succeed(Option.some(cached))
          return sql<Row>`SELECT step_id, doc FROM steps WHERE step_id = ${stepId}`.pipe(
            Effect.orDie,
            Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : codec.decode(where(rows[0]), rows[0].doc))
          )
        }),
      listByRun: (runId) =>
        sql<Row>`SELECT step_id, doc FROM steps WHERE run_id = ${runId} ORDER BY n`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => codec.decodeAll(rows, where, (r) => r.doc))
        )
    }
    const atomically = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      sql.withTransaction(self).pipe(
        Effect.onError(() => Effect.sync(() => recent.clear())),
        // BEGIN/COMMIT failing is a storage failure like any other write's: a defect (orDie)
        Effect.catchAll((e) =>
          typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError"
            ? Effect.die(e)
            : Effect.fail(e as E)
        )
      )
    return Context.make(StepRepo, repo).pipe(Context.add(Transactions, { atomically }))
  })
)
