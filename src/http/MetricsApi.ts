/** `GET /v1/metrics` (docs/http.md, Metrics): the Prometheus text exposition. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { ApiErrors } from "./errors.js"

export const METRICS_PATH = "/v1/metrics"

export class MetricsApi extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("metrics", METRICS_PATH)
      .addSuccess(
        HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }).annotations({
          description: "Prometheus text format"
        })
      )
      .annotateContext(OpenApi.annotations({
        summary: "Metrics for Prometheus",
        description: "Operator sessions (connected and all), pending requests by kind, running runs, runs ended by " +
          "status, step durations, operator request round trips, and HTTP requests by route and status. " +
          "Counters and histograms count from the server's start."
      }))
  )
  .addError(ApiErrors.InternalError)
{}
