/**
 * The whole server: config, listener, storage, session registry, the engine, routes, the
 * idle sweep and the startup line.
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer } from "effect"
import { version } from "../http/HealthHttp.js"
import { RunningRuns } from "../http/RunningRuns.js"
import { WsUpgrade } from "../http/WsUpgrade.js"
import { EngineConfig, type EngineConfigInput } from "../services/EngineConfig.js"
import { ServerSecret } from "../services/repos/ServerSecret.js"
import { SessionRepo } from "../services/repos/SessionRepo.js"
import { StorageInfo } from "../services/repos/StorageInfo.js"
import { SessionDirectory } from "../services/SessionDirectory.js"
import { Sessions } from "../services/Sessions.js"
import { EngineLive } from "./Engine.js"
import { HttpLive, NodeServerLive } from "./HttpServer.js"
import { LeanWorkerLive } from "./LeanWorker.js"
import { MemoryStorage } from "./MemoryStorage.js"
import type { StorageUnavailable } from "./sqlite/DataDir.js"
import { SqliteStorage } from "./SqliteStorage.js"
import { isLoopbackHost, PublicUrl, ServerConfig, type ServerConfigInput } from "./ServerConfig.js"

/** What a storage layer provides: every repository, the server secret and what it is. */
export type Repositories = Layer.Layer.Success<typeof MemoryStorage>

/**
 * The storage `serve` uses: SQLite under the data directory, or memory with `--memory`.
 * Built once and shared: the registry and the engine see the same SessionRepo.
 */
export const StorageLive: Layer.Layer<Repositories, StorageUnavailable, ServerConfig> = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) => config.memory ? MemoryStorage : SqliteStorage(config.dataDir))
)

/** The session registry over whatever SessionRepo the app provides. */
export const SessionsFromRepo = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) => Sessions.layer({ idleHorizon: config.idle.horizon, deadlines: config.deadlines }))
)

/** The registry with its own in-memory store (tests that run without the rest of the app). */
export const SessionsLive = SessionsFromRepo.pipe(Layer.provide(SessionRepo.memory))

/** Engine settings other than the public URL (which always comes from the bound server). */
export type EngineOptions = Omit<EngineConfigInput, "publicUrl">

/**
 * The engine over the registry: spawn directives carry the server's real public URL
 * (`--public-url`, else the bound address), so this is built after the listener.
 */
export const EngineFromUrl = (options: EngineOptions = {}) =>
  EngineLive.pipe(
    Layer.provideMerge(SessionDirectory.fromSessions),
    Layer.provideMerge(
      Layer.unwrapEffect(
        Effect.map(
          Effect.all({ publicUrl: PublicUrl, secret: ServerSecret }),
          ({ publicUrl, secret }) => EngineConfig.layer({ secret, ...options, publicUrl })
        )
      )
    )
  )

/** Expires idle sessions every `idle.sweepEvery` (docs/operators.md, Liveness and idle expiry); on the Clock, so TestClock drives it. */
export const IdleSweepLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const config = yield* ServerConfig
    const once = Effect.flatMap(sessions.sweep, (expired) =>
      expired === 0 ? Effect.void : Effect.logInfo(`idle expiry: ${expired} operator session(s) torn down`))
    yield* Effect.sleep(config.idle.sweepEvery).pipe(Effect.zipRight(once), Effect.forever, Effect.forkScoped)
  })
)

/** The one startup line, plus the exposure warning for a non-loopback bind (docs/security.md). */
export const StartupLogLive = Layer.effectDiscard(
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const server = yield* HttpServer.HttpServer
    const publicUrl = yield* PublicUrl
    const address = server.address._tag === "TcpAddress"
      ? `http://${server.address.hostname.includes(":") ? `[${server.address.hostname}]` : server.address.hostname}:${server.address.port}`
      : server.address.path
    const info = yield* StorageInfo
    const storage = info.kind === "memory"
      ? "state in memory (--memory): it is lost when the server stops"
      : `state in SQLite at ${info.location ?? config.dataDir}`
    const publicNote = publicUrl === address ? "" : `, public URL ${publicUrl}`
    yield* Effect.logInfo(`swarmgate ${version} listening on ${address}${publicNote}; ${storage}`)
    if (!isLoopbackHost(config.host)) {
      yield* Effect.logWarning(
        `bound to ${config.host}, not a loopback address: anyone who can reach ${address} can log in as an ` +
          `operator, and whoever holds the API token can start runs whose subprocess agents run commands on ` +
          `this host; bind 127.0.0.1 unless the server sits behind something that controls access`
      )
    }
  })
)

/**
 * The shutdown summary, logged when release starts (this layer goes first): what is about to
 * be interrupted and torn down.
 */
export const ShutdownLogLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const runs = yield* RunningRuns
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const all = yield* sessions.list()
        yield* Effect.logInfo("shutting down").pipe(Effect.annotateLogs({
          running_runs_interrupted: yield* runs.count,
          operator_sessions: all.length,
          connected_sessions: all.filter((s) => s.connected).length,
          pending_requests: all.reduce((n, s) => n + s.pending, 0)
        }))
      })
    )
  })
)

/**
 * Everything, listening on the configured address; the output exposes what tests need.
 * Build order: storage, listener and registry, then the public URL (needs the bound port),
 * then the engine (reads both), then the routes (read the engine). Release runs the other
 * way: the routes stop first, then the operator sockets close with 1001, then the engine
 * interrupts its run fibers, which records
 * every running run as `interrupted` (docs/commands.md, `serve`) while storage is still open, and
 * only then are the sessions ended.
 *
 * `engine`: settings such as the worker token TTL; `storage`: another storage than
 * `StorageLive` (tests: one store across two server lifetimes, as a database file is).
 */
export const AppLive = (
  input: ServerConfigInput = {},
  engine: EngineOptions = {},
  storage: Layer.Layer<Repositories, StorageUnavailable, ServerConfig> = StorageLive
) => {
  const Base = Layer.mergeAll(NodeServerLive, SessionsFromRepo).pipe(
    Layer.provideMerge(storage)
  )
  const WithUrl = PublicUrl.layer.pipe(Layer.provideMerge(Base))
  const WithEngine = RunningRuns.fromRuns.pipe(
    Layer.provideMerge(EngineFromUrl(engine)),
    Layer.provideMerge(WithUrl)
  )
  // sockets are built after the engine so they close (1001) before it interrupts its runs:
  // a run stopped by shutdown must not send `cancel` for requests it re-issues after a restart
  // the lean worker path goes in front of the router's listener once the router serves
  const Served = LeanWorkerLive.pipe(
    Layer.provideMerge(HttpLive),
    Layer.provideMerge(WsUpgrade.layer),
    Layer.provideMerge(WithEngine)
  )
  return Layer.mergeAll(IdleSweepLive, StartupLogLive, ShutdownLogLive).pipe(
    Layer.provideMerge(Served),
    Layer.provideMerge(ServerConfig.layer(input))
  )
}
