/** SessionRepo on SQLite: one row per stored operator session. */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import { SessionRepo, SessionRepoError, type SessionRepoShape } from "../../services/repos/SessionRepo.js"
import { documentCodec } from "./documents.js"
import { SessionRecord } from "../../protocol/records.js"

const codec = documentCodec(SessionRecord)

type Op = SessionRepoError["op"]
const failWith = (op: Op) => (e: SqlError) =>
  new SessionRepoError({ op, message: `session storage failed: ${e.message}`, cause: e })

interface Row {
  readonly sid: string
  readonly doc: string
}

export const SessionRepoSqlite: Layer.Layer<SessionRepo, never, SqlClient.SqlClient> = Layer.effect(
  SessionRepo,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const repo: SessionRepoShape = {
      insert: (record) =>
        Effect.suspend(() =>
          sql`INSERT INTO sessions (sid, joined_at, last_access, doc)
              VALUES (${record.sid}, ${record.joinedAt}, ${record.lastAccess}, ${codec.encode(record)})
              ON CONFLICT (sid) DO UPDATE SET joined_at = excluded.joined_at, last_access = excluded.last_access,
                doc = excluded.doc`
        ).pipe(Effect.asVoid, Effect.mapError(failWith("insert"))),
      get: (sid) =>
        sql<Row>`SELECT sid, doc FROM sessions WHERE sid = ${sid}`.pipe(
          Effect.mapError(failWith("get")),
          Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : codec.decode(`sessions ${sid}`, rows[0].doc))
        ),
      delete: (sid) => sql`DELETE FROM sessions WHERE sid = ${sid}`.pipe(Effect.asVoid, Effect.mapError(failWith("delete"))),
      // the doc carries lastAccess too: both move in one statement
      touch: (sid, at) =>
        sql`UPDATE sessions SET last_access = ${at}, doc = json_set(doc, '$.lastAccess', ${at}) WHERE sid = ${sid}`.pipe(
          Effect.asVoid,
          Effect.mapError(failWith("touch"))
        ),
      list: () =>
        sql<Row>`SELECT sid, doc FROM sessions ORDER BY joined_at, sid`.pipe(
          Effect.mapError(failWith("list")),
          Effect.flatMap((rows) => codec.decodeAll(rows, (r) => `sessions ${r.sid}`, (r) => r.doc))
        )
    }
    return repo
  })
)

