/**
 * The whole server: config, listener, session registry, routes, the idle sweep and the
 * startup line. The engine's layers (runs, workers, data) join here when they land.
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer } from "effect"
import { version } from "../http/HealthHttp.js"
import { RunningRuns } from "../http/RunningRuns.js"
import { WsUpgrade } from "../http/WsUpgrade.js"
import { SessionRepo } from "../services/repos/SessionRepo.js"
import { Sessions } from "../services/Sessions.js"
import { HttpLive, NodeServerLive } from "./HttpServer.js"
import { isLoopbackHost, PublicUrl, ServerConfig, type ServerConfigInput } from "./ServerConfig.js"

/** The session registry (in memory until SQLite storage lands). */
export const SessionsLive = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) => Sessions.layer({ idleHorizon: config.idle.horizon }))
).pipe(Layer.provide(SessionRepo.memory))

/** Expires idle sessions every `idle.sweepEvery` (protocol.md §7); on the Clock, so TestClock drives it. */
export const IdleSweepLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const config = yield* ServerConfig
    const once = Effect.flatMap(sessions.sweep, (expired) =>
      expired === 0 ? Effect.void : Effect.logInfo(`idle expiry: ${expired} operator session(s) torn down`))
    yield* Effect.sleep(config.idle.sweepEvery).pipe(Effect.zipRight(once), Effect.forever, Effect.forkScoped)
  })
)

/** The one startup line, plus the exposure warning for a non-loopback bind (quality.md S5). */
export const StartupLogLive = Layer.effectDiscard(
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const server = yield* HttpServer.HttpServer
    const publicUrl = yield* PublicUrl
    const address = server.address._tag === "TcpAddress"
      ? `http://${server.address.hostname.includes(":") ? `[${server.address.hostname}]` : server.address.hostname}:${server.address.port}`
      : server.address.path
    const storage = config.memory
      ? "state in memory (--memory)"
      : `data dir ${config.dataDir} (durable storage is not implemented yet: state is kept in memory)`
    const publicNote = publicUrl === address ? "" : `, public URL ${publicUrl}`
    yield* Effect.logInfo(`swarmgate ${version} listening on ${address}${publicNote}; ${storage}`)
    if (!isLoopbackHost(config.host)) {
      yield* Effect.logWarning(
        `bound to ${config.host}, not a loopback address: anyone who can reach ${address} can log in as an ` +
          `operator and drive runs; bind 127.0.0.1 unless the server sits behind something that controls access`
      )
    }
  })
)

/**
 * Everything, listening on the configured address; the output exposes what tests need.
 * Build order: listener and registry, then the public URL (needs the bound port), then
 * the engine (reads both), then the routes (read the engine).
 */
export const AppLive = (input: ServerConfigInput = {}) => {
  const Base = Layer.mergeAll(NodeServerLive, SessionsLive, WsUpgrade.layer)
  const WithUrl = PublicUrl.layer.pipe(Layer.provideMerge(Base))
  // the engine's layers (Runs, Worker, ...) replace RunningRuns.none here
  const WithEngine = RunningRuns.none.pipe(Layer.provideMerge(WithUrl))
  const Served = HttpLive.pipe(Layer.provideMerge(WithEngine))
  return Layer.mergeAll(IdleSweepLive, StartupLogLive).pipe(
    Layer.provideMerge(Served),
    Layer.provideMerge(ServerConfig.layer(input))
  )
}
