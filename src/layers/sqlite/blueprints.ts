/** BlueprintRepo on SQLite: one row per (id, version). */
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { type BlueprintRecord, BlueprintRepo, type BlueprintRepoShape } from "../../services/repos/BlueprintRepo.js"
import { documentCodec } from "./documents.js"
import { BlueprintRecord as BlueprintRecordSchema } from "../../protocol/records.js"

const codec = documentCodec(BlueprintRecordSchema)

interface Row {
  readonly id: string
  readonly version: number
  readonly doc: string
}

const where = (r: Row) => `blueprints ${r.id} v${r.version}`

export const BlueprintRepoSqlite: Layer.Layer<BlueprintRepo, never, SqlClient.SqlClient> = Layer.effect(
  BlueprintRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: BlueprintRepoShape = {
      put: (id, blueprint, at) =>
        sql.withTransaction(Effect.gen(function*() {
          const [latest] = yield* sql<{ readonly v: number | null }>`SELECT max(version) AS v FROM blueprints WHERE id = ${id}`
          const record: BlueprintRecord = { id, version: (latest?.v ?? 0) + 1, blueprint, updated_at: at }
          yield* sql`INSERT INTO blueprints (id, version, doc) VALUES (${id}, ${record.version}, ${codec.encode(record)})`
          return record
        })).pipe(Effect.orDie),
      get: (id, version) =>
        (version === undefined
          ? sql<Row>`SELECT id, version, doc FROM blueprints WHERE id = ${id} ORDER BY version DESC LIMIT 1`
          : sql<Row>`SELECT id, version, doc FROM blueprints WHERE id = ${id} AND version = ${version}`).pipe(
            Effect.orDie,
            Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : codec.decode(where(rows[0]), rows[0].doc))
          ),
      list: sql<Row>`SELECT b.id, b.version, b.doc FROM blueprints b
          WHERE b.version = (SELECT max(version) FROM blueprints WHERE id = b.id)`.pipe(
        Effect.orDie,
        Effect.flatMap((rows) => codec.decodeAll(rows, where, (r) => r.doc)),
        Effect.map((records) =>
          records
            .map(({ id, updated_at, version }) => ({ id, version, updated_at }))
            .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
        )
      ),
      remove: (id) =>
        sql<{ readonly version: number }>`DELETE FROM blueprints WHERE id = ${id} RETURNING version`.pipe(
          Effect.orDie,
          Effect.map((rows) => rows.length > 0)
        )
    }
    return repo
  })
)

