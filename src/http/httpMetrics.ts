/**
 * Counts every answered HTTP request by route pattern (never the concrete path, so ids do
 * not become labels), method and status, for `GET /v1/metrics`. Applied around the whole
 * router, so it sees the final status after the error envelope and the edge checks.
 */
import { HttpServerRequest, type HttpServerResponse } from "@effect/platform"
import { Context, Effect, Metric } from "effect"
import { type KnownRoute, patternOf } from "./ErrorMiddleware.js"
import { metricKeys, taggedOnce } from "../services/Telemetry.js"

/** The request counter by (route pattern, method, status); the lean worker path counts with it too. */
export const httpRequestsOf = taggedOnce(metricKeys.httpRequests, ["route", "method", "status"])

export const countRequests = (routes: ReadonlyArray<KnownRoute>) => {
  const compiled = routes.map((r) => ({ ...r, pattern: patternOf(r.path) }))
  // routes without parameters are found by their exact path (the worker routes are all such)
  const exact = new Map<string, string>()
  for (const r of routes) if (!r.path.includes(":") && !r.path.includes("*")) exact.set(`${r.method} ${r.path}`, r.path)
  const routeOf = (method: string, url: string): string => {
    const q = url.indexOf("?")
    const path = q === -1 ? url : url.slice(0, q)
    const wanted = method === "HEAD" ? "GET" : method
    const known = exact.get(`${wanted} ${path}`)
    if (known !== undefined) return known
    const found = compiled.find((r) => r.method === wanted && r.pattern.test(path)) ??
      compiled.find((r) => r.pattern.test(path))
    return found === undefined ? "unmatched" : found.path
  }
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.withFiberRuntime((fiber) => {
      const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
      return Effect.tap(app, (response) =>
        Metric.increment(httpRequestsOf(routeOf(request.method, request.url), request.method, String(response.status))))
    })
}
