/**
 * What only the SQLite storage does: files and modes in the data directory, the secret
 * across reopenings, migrations (from an empty file and from the v1 fixture), refusing a
 * newer database, skipping a row that does not decode, and clear failures.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Context, Effect, Exit, Layer, Logger, Option } from "effect"
import { readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { SqliteRepos, SqliteStorage } from "../../src/layers/SqliteStorage.js"
import { DATABASE_FILE, DatabaseLive, MIGRATIONS_TABLE } from "../../src/layers/sqlite/Database.js"
import { latestSchemaVersion } from "../../src/layers/sqlite/migrations.js"
import { newRunId, newStepId, newTaskId, type RunId, type Sid, type TaskId } from "../../src/protocol/ids.js"
import { BlueprintRepo } from "../../src/services/repos/BlueprintRepo.js"
import { CapabilityRepo } from "../../src/services/repos/CapabilityRepo.js"
import { EventRepo } from "../../src/services/repos/EventRepo.js"
import { OutputRepo } from "../../src/services/repos/OutputRepo.js"
import { RunRepo } from "../../src/services/repos/RunRepo.js"
import { ServerSecret } from "../../src/services/repos/ServerSecret.js"
import { SeatRepo } from "../../src/services/repos/SeatRepo.js"
import { SessionRepo } from "../../src/services/repos/SessionRepo.js"
import { StepRepo } from "../../src/services/repos/StepRepo.js"
import { TaskRepo } from "../../src/services/repos/TaskRepo.js"
import { Transactions } from "../../src/services/repos/Transactions.js"
import { tempDir } from "./fixtures.js"

/** Ids of the records in the v1 fixture. */
const V1 = {
  sid: "S-0123456789abcdef0123456789abcdef" as Sid,
  task: "T-00000000000000a1" as TaskId,
  run: "R-00000000000000b1" as RunId
}

/** The first failure of a failed exit. */
const failureOf = (exit: Exit.Exit<unknown, unknown>): any =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const mode = (path: string) => statSync(path).mode & 0o777

/** Raw statements on a database file, with the library's client (no swarmgate code involved). */
const raw = (file: string, statements: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const s of statements) yield* sql.unsafe(s)
  }).pipe(Effect.provide(SqliteClient.layer({ filename: file })), Effect.orDie)

const script = (path: string) =>
  readFileSync(path, "utf8").split(/;\s*\n/).map((s) => s.replace(/^--.*$/gm, "").trim()).filter((s) => s !== "")

/** Build the storage once in its own scope: like one server lifetime. */
const lifetime = <A, E>(dataDir: string, body: Effect.Effect<A, E, any>) =>
  Effect.scoped(Effect.flatMap(Layer.build(SqliteStorage(dataDir)), (ctx) => Effect.provide(body, ctx))) as Effect.Effect<
    A,
    unknown
  >

describe("SQLite storage", () => {
  it.effect("creates the data dir 0700, the database and the secret 0600; both survive a reopen", () =>
    Effect.gen(function*() {
      const dir = join(tempDir(), "nested", "data")
      const runId = newRunId()
      const step = {
        step_id: newStepId(),
        run_id: runId,
        ref: "op",
        attempt: 1,
        status: "running" as const,
        started_at: "t",
        location: "0",
        input: { q: [1, "two"] },
        submission: { value: { a: 1 }, verdict: "pass" as const, at: "t" },
        parts: { diff: "d" }
      }
      const first = yield* lifetime(dir, Effect.gen(function*() {
        yield* (yield* RunRepo).put({ run_id: runId, task_id: newTaskId(), status: "done", created_at: "t", input: 1 })
        yield* (yield* StepRepo).put(step)
        return yield* ServerSecret
      }))
      expect(mode(dir)).toBe(0o700)
      expect(mode(join(dir, DATABASE_FILE))).toBe(0o600)
      expect(mode(join(dir, "secret"))).toBe(0o600)
      expect(first.length).toBe(32)
      const second = yield* lifetime(dir, Effect.gen(function*() {
        return { secret: yield* ServerSecret, run: yield* (yield* RunRepo).get(runId), step: yield* (yield* StepRepo).get(step.step_id) }
      }))
      expect(Buffer.from(second.secret).equals(Buffer.from(first))).toBe(true)
      expect(Option.map(second.run, (r) => r.status)).toEqual(Option.some("done"))
      // read from the file, not from the writer's memory
      expect(second.step).toEqual(Option.some(step))
    }))

  it.effect("an empty file is migrated to the latest schema", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      writeFileSync(join(dir, DATABASE_FILE), "")
      yield* lifetime(dir, Effect.void)
      const versions = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ migration_id: number }>`SELECT migration_id FROM ${sql(MIGRATIONS_TABLE)}`),
        SqliteClient.layer({ filename: join(dir, DATABASE_FILE) })
      )
      expect(versions.map((v) => v.migration_id).at(-1)).toBe(latestSchemaVersion)
    }))

  it.effect("a database at schema v1 (fixture) is migrated and every record in it reads back", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* raw(join(dir, DATABASE_FILE), script(join(import.meta.dirname, "fixtures", "schema-v1.sql")))
      const read = yield* lifetime(dir, Effect.gen(function*() {
        return {
          session: yield* (yield* SessionRepo).get(V1.sid),
          blueprints: yield* (yield* BlueprintRepo).list,
          task: yield* (yield* TaskRepo).get(V1.task),
          run: yield* (yield* RunRepo).get(V1.run),
          steps: yield* (yield* StepRepo).listByRun(V1.run),
          seats: yield* (yield* SeatRepo).listByRun(V1.run),
          events: yield* (yield* EventRepo).list(V1.run),
          output: yield* (yield* OutputRepo).latestByName(V1.run, "report"),
          capability: yield* (yield* CapabilityRepo).get("b".repeat(64))
        }
      }))
      expect(Option.map(read.session, (s) => s.desc)).toEqual(Option.some("v1 operator"))
      expect(read.blueprints).toEqual([{ id: "hello", version: 1, updated_at: "2026-01-01T00:00:00.000Z" }])
      expect(Option.map(read.task, (t) => t.blueprint_version)).toEqual(Option.some(1))
      expect(Option.map(read.run, (r) => r.status)).toEqual(Option.some("interrupted"))
      // schema 2 moved the seats out of the run doc into their own rows
      expect(Option.map(read.run, (r) => "seats" in r)).toEqual(Option.some(false))
      expect(read.seats).toEqual([
        { run_id: V1.run, slot: "main", sid: V1.sid, generation: 2 },
        { run_id: V1.run, slot: "review", sid: null, generation: 0 }
      ])
      expect(read.steps.map((s) => [s.step_id, s.status])).toEqual([["ST-00000000000000c1", "passed"]])
      expect(read.events.map((e) => [e.seq, e.type])).toEqual([[1, "run_started"]])
      expect(Option.map(read.output, (o) => Buffer.from(o.body).toString())).toEqual(Option.some("hi"))
      expect(Option.map(read.capability, (c) => c.kind)).toEqual(Option.some("handle"))
    }))

  it.effect("a database written by a newer version is refused with one line saying so", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* lifetime(dir, Effect.void)
      const future = latestSchemaVersion + 1
      yield* raw(join(dir, DATABASE_FILE), [`INSERT INTO ${MIGRATIONS_TABLE} (migration_id, name) VALUES (${future}, 'future')`])
      const exit = yield* Effect.exit(lifetime(dir, Effect.void))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = failureOf(exit)
      expect(error?._tag).toBe("StorageUnavailable")
      expect(error?.reason).toBe("newer_schema")
      expect(error?.message).toContain(`schema version ${future}`)
      expect(error?.message).not.toContain("\n")
    }))

  it.effect("a row that does not decode is skipped with a warning naming it; the rest reads", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const taskId = newTaskId()
      const good = newRunId()
      yield* lifetime(dir, Effect.flatMap(RunRepo, (repo) =>
        repo.put({ run_id: good, task_id: taskId, status: "running", created_at: "t", input: 1 })))
      yield* raw(join(dir, DATABASE_FILE), [
        `INSERT INTO runs (run_id, task_id, status, doc) VALUES ('R-badbadbadbadbad0', '${taskId}', 'running', '{"run_id": broken')`
      ])
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message.join(" ") : message))
      })
      const listed = yield* lifetime(dir, Effect.flatMap(RunRepo, (repo) => repo.listByTask(taskId))).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      expect(listed.map((r) => r.run_id)).toEqual([good])
      expect(warnings.some((w) => w.includes("R-badbadbadbadbad0"))).toBe(true)
    }))

  it.effect("storage failures are defects in the engine's repositories and SessionRepoError for sessions", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const layer = SqliteRepos.pipe(Layer.provideMerge(DatabaseLive(dir)))
      yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(layer)
        const sql = Context.get(ctx, SqlClient.SqlClient)
        yield* sql`DROP TABLE runs`
        yield* sql`DROP TABLE sessions`
        const run = yield* Effect.exit(Context.get(ctx, RunRepo).get(newRunId()))
        expect(Exit.isFailure(run) && Cause.isDie(run.cause)).toBe(true)
        const session = yield* Effect.flip(Context.get(ctx, SessionRepo).list())
        expect(session._tag).toBe("SessionRepoError")
        expect(session.op).toBe("list")
      }))
    }))

  it.effect("a damaged secret file stops the start with a clear message", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      writeFileSync(join(dir, "secret"), "not hex\n", { mode: 0o600 })
      const exit = yield* Effect.exit(lifetime(dir, Effect.void))
      const error = failureOf(exit)
      expect(error?.reason).toBe("secret")
      expect(error?.message).toContain("damaged")
    }))

  it.effect("a data dir that cannot be created is a StorageUnavailable, not a defect", () =>
    Effect.gen(function*() {
      const file = join(tempDir(), "plain-file")
      writeFileSync(file, "x")
      const exit = yield* Effect.exit(lifetime(join(file, "data"), Effect.void))
      const error = failureOf(exit)
      expect(error?.reason).toBe("data_dir")
      expect(error?.message).toContain("not a directory")
    }))

  it.effect("a step's writes commit together: a failed transaction leaves neither its record nor its events", () =>
    Effect.gen(function*() {
      const dataDir = join(tempDir(), "data")
      const runId = newRunId()
      const step = {
        step_id: newStepId(),
        run_id: runId,
        ref: "id",
        attempt: 1,
        status: "passed" as const,
        started_at: "2026-01-01T00:00:00.000Z",
        location: "$.flow",
        input: null,
        sealed: true
      }
      const writes = Effect.gen(function*() {
        yield* (yield* StepRepo).put(step)
        yield* (yield* EventRepo).append({ type: "step_started", run_id: runId, at: "t", seq: 1 })
      })
      const failed = yield* lifetime(
        dataDir,
        Effect.gen(function*() {
          const { atomically } = yield* Transactions
          const exit = yield* Effect.exit(atomically(Effect.zipRight(writes, Effect.fail("boom" as const))))
          // read in the same lifetime: the step cache must not answer with the rolled-back record
          return { exit, step: yield* (yield* StepRepo).get(step.step_id), events: yield* (yield* EventRepo).list(runId) }
        })
      )
      expect(failureOf(failed.exit)).toBe("boom")
      expect(failed.step).toEqual(Option.none())
      expect(failed.events).toEqual([])

      const done = yield* lifetime(
        dataDir,
        Effect.gen(function*() {
          yield* (yield* Transactions).atomically(writes)
          return { step: yield* (yield* StepRepo).get(step.step_id), events: yield* (yield* EventRepo).list(runId) }
        })
      )
      expect(Option.map(done.step, (s) => s.status)).toEqual(Option.some("passed"))
      expect(done.events.map((e) => e.seq)).toEqual([1])
    }))
})
