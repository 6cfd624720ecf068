/** `GET /v1/healthz`, `GET /v1/status` (docs/http.md, Health). */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ApiErrors } from "./errors.js"

export const Healthz = Schema.Struct({
  ok: Schema.Literal(true),
  version: Schema.String.annotations({ description: "the server's version (semver)" })
})

export const Status = Schema.Struct({
  running_runs: Schema.Int,
  sessions: Schema.Int,
  connected_sessions: Schema.Int,
  pending_requests: Schema.Int,
  uptime_secs: Schema.Int,
  storage: Schema.Literal("sqlite", "memory"),
  /** The idle horizon and the sweep period, in seconds, and when the sweep last ran. */
  session_idle_secs: Schema.Number,
  sweep_every_secs: Schema.Number,
  last_sweep_at: Schema.optionalWith(Schema.String, { exact: true })
})

export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("healthz", "/v1/healthz")
      .annotateContext(OpenApi.annotations({ summary: "Liveness: the server answers" }))
      .addSuccess(Healthz)
  )
  .add(
    HttpApiEndpoint.get("status", "/v1/status")
      .annotateContext(OpenApi.annotations({
        summary: "Counters: runs, sessions, pending requests, uptime",
        description: "Idle sessions are expired before counting, so an expired session is never counted."
      }))
      .addSuccess(Status)
  )
  .addError(ApiErrors.InternalError)
{}
