/**
 * Counts every answered HTTP request by route pattern (never the concrete path, so ids do
 * not become labels), method and status, for `GET /v1/metrics`. Applied around the whole
 * router, so it sees the final status after the error envelope and the edge checks.
 */
import { HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Effect, Metric } from "effect"
import { type KnownRoute, patternOf } from "./ErrorMiddleware.js"
import { metrics } from "../services/Telemetry.js"

export const countRequests = (routes: ReadonlyArray<KnownRoute>) => {
  const compiled = routes.map((r) => ({ ...r, pattern: patternOf(r.path) }))
  const routeOf = (method: string, url: string): string => {
    const q = url.indexOf("?")
    const path = q === -1 ? url : url.slice(0, q)
    const wanted = method === "HEAD" ? "GET" : method
    const found = compiled.find((r) => r.method === wanted && r.pattern.test(path)) ??
      compiled.find((r) => r.pattern.test(path))
    return found === undefined ? "unmatched" : found.path
  }
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Effect.tap(app, (response) =>
        Metric.update(
          metrics.httpRequests.pipe(
            Metric.tagged("route", routeOf(request.method, request.url)),
            Metric.tagged("method", request.method),
            Metric.tagged("status", String(response.status))
          ),
          1
        )))
}
