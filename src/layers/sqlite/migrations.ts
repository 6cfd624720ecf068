/**
 * The SQLite schema, forward-only: a migration once released is never edited; a change is
 * a new entry. Each table keeps its key and the columns queries filter or sort on, plus
 * `doc`: the record as JSON, encoded and decoded with the record's Schema, so a new record
 * field needs no migration.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

const v1 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE sessions (
    sid TEXT PRIMARY KEY NOT NULL,
    joined_at INTEGER NOT NULL,
    last_access INTEGER NOT NULL,
    doc TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE blueprints (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (id, version)
  )`
  // n: insertion order, which the repositories promise as creation order
  yield* sql`CREATE TABLE tasks (n INTEGER PRIMARY KEY, task_id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`
  yield* sql`CREATE TABLE runs (
    n INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX runs_by_task ON runs (task_id, n)`
  yield* sql`CREATE INDEX runs_by_status ON runs (status, n)`
  yield* sql`CREATE TABLE steps (n INTEGER PRIMARY KEY, step_id TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL, doc TEXT NOT NULL)`
  yield* sql`CREATE INDEX steps_by_run ON steps (run_id, n)`
  yield* sql`CREATE TABLE run_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  ) WITHOUT ROWID`
  yield* sql`CREATE TABLE outputs (
    n INTEGER PRIMARY KEY,
    out_id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    body BLOB NOT NULL
  )`
  yield* sql`CREATE INDEX outputs_by_name ON outputs (name, run_id, n)`
  yield* sql`CREATE TABLE capabilities (digest TEXT PRIMARY KEY NOT NULL, expires_at INTEGER NOT NULL, doc TEXT NOT NULL)`
})

/**
 * Seats get their own table (Seats owns them). Schema 1 kept them inside the run's doc as
 * `seats: {slot: {sid, generation} | null}`: they move here, in declaration order, and leave
 * the run doc. An empty seat of schema 1 did not record its generation: it becomes 0.
 */
const v2 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE seats (
    n INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (run_id, slot)
  )`
  yield* sql`INSERT INTO seats (run_id, slot, doc)
    SELECT r.run_id, s.key, json_object(
      'run_id', r.run_id,
      'slot', s.key,
      'sid', json_extract(s.value, '$.sid'),
      'generation', coalesce(json_extract(s.value, '$.generation'), 0))
    FROM runs r, json_each(r.doc, '$.seats') s
    WHERE json_valid(r.doc)
    ORDER BY r.n, s.id`
  yield* sql`UPDATE runs SET doc = json_remove(doc, '$.seats') WHERE json_valid(doc)`
})

/** Every migration, by `<id>_<name>`. */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_initial": v1,
  "2_seats": v2
}

/** The schema version this build writes: the highest migration id. */
export const latestSchemaVersion: number = Math.max(...Object.keys(migrations).map((k) => Number(k.split("_")[0])))
