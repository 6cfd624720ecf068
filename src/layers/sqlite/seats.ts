/** SeatRepo on SQLite: one row per declared seat of a run; `n` keeps declaration order. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { SeatingRecord } from "../../protocol/records.js"
import { SeatRepo, type SeatRepoShape } from "../../services/repos/SeatRepo.js"
import { documentCodec } from "./documents.js"

const codec = documentCodec(SeatingRecord)

interface Row {
  readonly run_id: string
  readonly slot: string
  readonly doc: string
}

export const SeatRepoSqlite: Layer.Layer<SeatRepo, never, SqlClient.SqlClient> = Layer.effect(
  SeatRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: SeatRepoShape = {
      put: (seating) =>
        Effect.suspend(() =>
          sql`INSERT INTO seats (run_id, slot, doc) VALUES (${seating.run_id}, ${seating.slot}, ${codec.encode(seating)})
              ON CONFLICT (run_id, slot) DO UPDATE SET doc = excluded.doc`
        ).pipe(Effect.orDie, Effect.asVoid),
      listByRun: (runId) =>
        sql<Row>`SELECT run_id, slot, doc FROM seats WHERE run_id = ${runId} ORDER BY n`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) => codec.decodeAll(rows, (r) => `seats ${r.run_id}/${r.slot}`, (r) => r.doc))
        )
    }
    return repo
  })
)
