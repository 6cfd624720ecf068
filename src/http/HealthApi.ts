/** `GET /v1/healthz`, `GET /v1/status` (http-api.md, Health). */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { ApiErrors } from "./errors.js"

export const Healthz = Schema.Struct({
  ok: Schema.Literal(true),
  version: Schema.String
})

export const Status = Schema.Struct({
  running_runs: Schema.Int,
  sessions: Schema.Int,
  connected_sessions: Schema.Int,
  pending_requests: Schema.Int,
  uptime_secs: Schema.Int,
  storage: Schema.Literal("sqlite", "memory")
})

export class HealthApi extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/v1/healthz").addSuccess(Healthz))
  .add(HttpApiEndpoint.get("status", "/v1/status").addSuccess(Status))
  .addError(ApiErrors.InternalError)
{}
