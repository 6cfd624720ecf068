/** OutputRepo on SQLite: the body in a BLOB column, the rest of the record in `doc`. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { OutputRecord as OutputRecordSchema } from "../../protocol/records.js"
import { type OutputRecord, OutputRepo, type OutputRepoShape } from "../../services/repos/OutputRepo.js"
import { documentCodec } from "./documents.js"

// the body goes in its own BLOB column, not through JSON
const codec = documentCodec(OutputRecordSchema.pipe(Schema.omit("body")))

interface Row {
  readonly out_id: string
  readonly doc: string
  readonly body: Uint8Array
}

const one = (rows: ReadonlyArray<Row>) => {
  const row = rows[0]
  if (row === undefined) return Effect.succeedNone
  return Effect.map(
    codec.decode(`outputs ${row.out_id}`, row.doc),
    Option.map((meta): OutputRecord => ({ ...meta, body: new Uint8Array(row.body) }))
  )
}

export const OutputRepoSqlite: Layer.Layer<OutputRepo, never, SqlClient.SqlClient> = Layer.effect(
  OutputRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: OutputRepoShape = {
      put: (output) =>
        Effect.suspend(() => {
          const { body, ...meta } = output
          return sql`INSERT INTO outputs (out_id, run_id, name, doc, body)
              VALUES (${output.out_id}, ${output.run_id}, ${output.name}, ${codec.encode(meta)}, ${
            Buffer.from(body.buffer, body.byteOffset, body.byteLength)
          })`
        }).pipe(Effect.orDie, Effect.asVoid),
      get: (outId) =>
        sql<Row>`SELECT out_id, doc, body FROM outputs WHERE out_id = ${outId}`.pipe(Effect.orDie, Effect.flatMap(one)),
      latestByName: (runId, name) =>
        (runId === undefined
          ? sql<Row>`SELECT out_id, doc, body FROM outputs WHERE name = ${name} ORDER BY n DESC LIMIT 1`
          : sql<Row>`SELECT out_id, doc, body FROM outputs WHERE name = ${name} AND run_id = ${runId}
                     ORDER BY n DESC LIMIT 1`).pipe(Effect.orDie, Effect.flatMap(one))
    }
    return repo
  })
)
