/**
 * Every repository on one SQLite database under the data directory (`serve` without
 * `--memory`), plus the server secret kept beside it. Same shapes as MemoryStorage.
 */
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { ServerSecret } from "../services/repos/ServerSecret.js"
import { StorageInfo } from "../services/repos/StorageInfo.js"
import { BlueprintRepoSqlite } from "./sqlite/blueprints.js"
import { CapabilityRepoSqlite } from "./sqlite/capabilities.js"
import { DATABASE_FILE, DatabaseLive } from "./sqlite/Database.js"
import { loadSecret, prepareDataDir, type StorageUnavailable } from "./sqlite/DataDir.js"
import { EventRepoSqlite } from "./sqlite/events.js"
import { OutputRepoSqlite } from "./sqlite/outputs.js"
import { SeatRepoSqlite } from "./sqlite/seats.js"
import { SessionRepoSqlite } from "./sqlite/sessions.js"
import { StepRepoSqlite } from "./sqlite/steps.js" // with Transactions (they share the step cache)
import { RunRepoSqlite, TaskRepoSqlite } from "./sqlite/tasksAndRuns.js"
import type { MemoryStorage } from "./MemoryStorage.js"

/** The repositories over whatever (migrated) SqlClient is provided. */
export const SqliteRepos = Layer.mergeAll(
  BlueprintRepoSqlite,
  TaskRepoSqlite,
  RunRepoSqlite,
  SeatRepoSqlite,
  StepRepoSqlite,
  EventRepoSqlite,
  OutputRepoSqlite,
  CapabilityRepoSqlite,
  SessionRepoSqlite
)

export const SqliteStorage = (
  dataDir: string
): Layer.Layer<Layer.Layer.Success<typeof MemoryStorage>, StorageUnavailable> =>
  Layer.mergeAll(
    SqliteRepos.pipe(Layer.provide(DatabaseLive(dataDir))),
    Layer.effect(ServerSecret, Effect.zipRight(prepareDataDir(dataDir), loadSecret(dataDir))),
    Layer.succeed(StorageInfo, { kind: "sqlite", location: join(dataDir, DATABASE_FILE) })
  )
