import { HttpApiBuilder } from "@effect/platform"
import { Clock, Duration, Effect, Option } from "effect"
import { ServerConfig } from "../layers/ServerConfig.js"
import pkg from "../../package.json" with { type: "json" }
import { StorageInfo } from "../services/repos/StorageInfo.js"
import { Sessions } from "../services/Sessions.js"
import { Api } from "./Api.js"
import { RunningRuns } from "./RunningRuns.js"

export const version: string = pkg.version

export const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const config = yield* ServerConfig
    const runs = yield* RunningRuns
    const storage = yield* StorageInfo
    const startedAt = yield* Clock.currentTimeMillis
    return handlers
      .handle("healthz", () => Effect.succeed({ ok: true as const, version }))
      .handle("status", () =>
        Effect.gen(function*() {
          // expiry when a route touches it; not the periodic sweep, whose time is reported
          yield* sessions.expireIdle
          const lastSweep = yield* sessions.lastSweepAt
          const all = yield* sessions.list()
          const now = yield* Clock.currentTimeMillis
          return {
            running_runs: yield* runs.count,
            sessions: all.length,
            connected_sessions: all.filter((s) => s.connected).length,
            pending_requests: all.reduce((n, s) => n + s.pending, 0),
            uptime_secs: Math.max(0, Math.floor((now - startedAt) / 1000)),
            storage: storage.kind,
            session_idle_secs: Duration.toSeconds(config.idle.horizon),
            sweep_every_secs: Duration.toSeconds(config.idle.sweepEvery),
            ...(Option.isSome(lastSweep) ? { last_sweep_at: new Date(lastSweep.value).toISOString() } : {})
          }
        }))
  }))
