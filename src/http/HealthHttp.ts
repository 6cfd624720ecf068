import { HttpApiBuilder } from "@effect/platform"
import { Clock, Effect } from "effect"
import pkg from "../../package.json" with { type: "json" }
import { StorageInfo } from "../services/repos/StorageInfo.js"
import { Sessions } from "../services/Sessions.js"
import { Api } from "./Api.js"
import { RunningRuns } from "./RunningRuns.js"

export const version: string = pkg.version

export const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const runs = yield* RunningRuns
    const storage = yield* StorageInfo
    const startedAt = yield* Clock.currentTimeMillis
    return handlers
      .handle("healthz", () => Effect.succeed({ ok: true as const, version }))
      .handle("status", () =>
        Effect.gen(function*() {
          yield* sessions.sweep
          const all = yield* sessions.list()
          const now = yield* Clock.currentTimeMillis
          return {
            running_runs: yield* runs.count,
            sessions: all.length,
            connected_sessions: all.filter((s) => s.connected).length,
            pending_requests: all.reduce((n, s) => n + s.pending, 0),
            uptime_secs: Math.max(0, Math.floor((now - startedAt) / 1000)),
            storage: storage.kind
          }
        }))
  }))
