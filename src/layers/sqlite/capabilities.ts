/** CapabilityRepo on SQLite, keyed by the credential's digest; expired rows are dropped at boot. */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer } from "effect"
import { CapabilityRepo, type CapabilityRepoShape } from "../../services/repos/CapabilityRepo.js"
import { documentCodec } from "./documents.js"
import { CapabilityRecord as CapabilityRecordSchema } from "../../protocol/records.js"

const codec = documentCodec(CapabilityRecordSchema)

export const CapabilityRepoSqlite: Layer.Layer<CapabilityRepo, never, SqlClient.SqlClient> = Layer.effect(
  CapabilityRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    yield* sql`DELETE FROM capabilities WHERE expires_at <= ${now}`.pipe(Effect.orDie)
    const repo: CapabilityRepoShape = {
      put: (record) =>
        Effect.suspend(() =>
          sql`INSERT INTO capabilities (digest, expires_at, doc) VALUES (${record.digest}, ${record.expires_at}, ${
            codec.encode(record)
          })
              ON CONFLICT (digest) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc`
        ).pipe(Effect.orDie, Effect.asVoid),
      get: (digest) =>
        sql<{ readonly doc: string }>`SELECT doc FROM capabilities WHERE digest = ${digest}`.pipe(
          Effect.orDie,
          Effect.flatMap((rows) =>
            rows[0] === undefined ? Effect.succeedNone : codec.decode(`capabilities ${digest.slice(0, 8)}…`, rows[0].doc)
          )
        )
    }
    return repo
  })
)
