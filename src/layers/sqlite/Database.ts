/**
 * The one SQLite connection of a server: `<data dir>/swarmgate.db`, opened by
 * `@effect/sql-sqlite-node` (one better-sqlite3 connection behind the client's own
 * semaphore, WAL journal), refused when a newer swarmgate wrote it, then migrated.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer } from "effect"
import { join } from "node:path"
import { ensurePrivateFile, prepareDataDir, StorageUnavailable } from "./DataDir.js"
import { latestSchemaVersion, migrations } from "./migrations.js"

export const DATABASE_FILE = "swarmgate.db"
export const MIGRATIONS_TABLE = "effect_sql_migrations"

const runMigrations = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE })

const messageOf = (e: unknown): string => {
  const inner = typeof e === "object" && e !== null && "cause" in e ? (e as { cause: unknown }).cause : e
  return inner instanceof Error ? inner.message : String(inner)
}

/** The schema version stored in the file (0 for a new file). */
export const storedSchemaVersion = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const table = yield* sql<{ readonly n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${MIGRATIONS_TABLE}`
  if ((table[0]?.n ?? 0) === 0) return 0
  const rows = yield* sql<{ readonly v: number | null }>`SELECT max(migration_id) AS v FROM ${sql(MIGRATIONS_TABLE)}`
  return rows[0]?.v ?? 0
})

/** Refuse a newer file, then apply what is missing; `file` only names it in messages. */
export const migrate = (file: string) =>
  Effect.gen(function*() {
    const stored = yield* storedSchemaVersion
    if (stored > latestSchemaVersion) {
      return yield* new StorageUnavailable({
        reason: "newer_schema",
        message: `${file} was written by a newer swarmgate (schema version ${stored}; this version knows up to ` +
          `${latestSchemaVersion}): upgrade swarmgate, or use another --data-dir`
      })
    }
    yield* runMigrations
  }).pipe(
    Effect.catchTags({
      SqlError: (e) =>
        new StorageUnavailable({
          reason: "open",
          message: /locked|busy/i.test(messageOf(e))
            ? `${file} is in use by another process (is another swarmgate serving this data directory?)`
            : `cannot read ${file}: ${messageOf(e)}`,
          cause: e
        }),
      MigrationError: (e) =>
        new StorageUnavailable({ reason: "migration", message: `cannot migrate ${file}: ${e.message}`, cause: e })
    })
  )

/**
 * A client on `file` (created 0600 when missing); construction failures are StorageUnavailable,
 * not defects. The connection is this process's alone (locking_mode EXCLUSIVE, set before WAL
 * is entered so no shared-memory index is used): commits are about twice as cheap, and a second
 * server on the same data directory is refused at start instead of sharing the file.
 */
export const openClient = (file: string) =>
  Layer.scopedContext(
    ensurePrivateFile(file).pipe(
      // WAL is switched on below, after the locking mode
      Effect.zipRight(Effect.suspend(() => SqliteClient.make({ filename: file, disableWAL: true }))),
      Effect.catchAllDefect((cause) =>
        new StorageUnavailable({ reason: "open", message: `cannot open ${file}: ${messageOf(cause)}`, cause })
      ),
      Effect.tap((client) =>
        Effect.all([
          client`PRAGMA locking_mode = EXCLUSIVE`,
          client`PRAGMA busy_timeout = 1000`,
          client`PRAGMA journal_mode = WAL`,
          // NORMAL in WAL mode: a commit is in the WAL (the OS has it) before the call returns, so a
          // killed process loses nothing; only a power cut can lose the last commits (docs/decisions.md)
          client`PRAGMA synchronous = NORMAL`
        ], { discard: true }).pipe(
          Effect.catchAll((e) =>
            new StorageUnavailable({
              reason: "open",
              message: /locked|busy/i.test(messageOf(e))
                ? `${file} is in use by another process (is another swarmgate serving this data directory?)`
                : `cannot open ${file}: ${messageOf(e)}`,
              cause: e
            })
          )
        )
      ),
      Effect.map((client) => Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
    )
  ).pipe(Layer.provide(Reactivity.layer))

/** The data directory prepared, the database opened and migrated. */
export const DatabaseLive = (dataDir: string): Layer.Layer<SqlClient.SqlClient, StorageUnavailable> => {
  const file = join(dataDir, DATABASE_FILE)
  const client = Layer.unwrapEffect(Effect.as(prepareDataDir(dataDir), openClient(file)))
  return Layer.effectDiscard(migrate(file)).pipe(Layer.provideMerge(client))
}
