/**
 * The router-wide middleware that makes every error an envelope (docs/http.md):
 * unknown route 404, known path with another method 405, HttpApi's own decode
 * failures 400 `invalid_request` naming the field, body limit 413, unparsable JSON 400,
 * anything unexpected 500 (logged). It also puts the body limit on the request.
 */
import {
  type HttpApi,
  Headers,
  HttpLayerRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Cause, Context, Effect, Option } from "effect"
import { didYouMean } from "./nearestRoute.js"
import { ServerConfig } from "../layers/ServerConfig.js"
import { cut, tooDeepMessage } from "../protocol/json.js"
import { asPlainJson, makeEdgeRules } from "./edge.js"
import { apiErrorResponse, envelopeResponse, isApiError } from "./errors.js"
import { BodyTooLarge, bodyLimitFor, InvalidJsonBody, JsonTooDeep, limitInPlace, withBodyLimit } from "./limits.js"

export interface KnownRoute {
  readonly method: string
  readonly path: string
}

/** Every (method, path) of an HttpApi, for the 404/405 decision. */
export const routesOfApi = (api: HttpApi.HttpApi.Any): ReadonlyArray<KnownRoute> =>
  Object.values((api as HttpApi.HttpApi.AnyWithProps).groups).flatMap((group) =>
    Object.values(group.endpoints).map((endpoint) => ({ method: endpoint.method, path: endpoint.path }))
  )

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

export const patternOf = (path: string): RegExp =>
  new RegExp(
    "^" +
      path.split("/").map((segment) =>
        segment.startsWith(":")
          ? "[^/]+"
          : segment === "*"
          ? ".*"
          : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      ).join("/") + "$"
  )

/**
 * Methods that some route accepts for this path (empty: the path is unknown); its
 * `didYouMean` is the 404's hint naming the nearest real route, if any.
 */
export const makeAllowedMethods = (routes: ReadonlyArray<KnownRoute>) => {
  const compiled = routes.map((r) => ({ method: r.method, pattern: patternOf(r.path) }))
  const allowed = (url: string): ReadonlyArray<string> => {
    const path = pathOf(url)
    const methods = new Set<string>()
    for (const r of compiled) if (r.pattern.test(path)) methods.add(r.method)
    if (methods.has("GET")) methods.add("HEAD")
    return [...methods]
  }
  return Object.assign(allowed, {
    didYouMean: (method: string, url: string) => didYouMean(routes, method, pathOf(url))
  })
}

interface DecodeIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const fieldName = (path: ReadonlyArray<PropertyKey>) => cut(path.map(String).join("."))

/** How many problems the message names before it says "and N more" (all are in details, capped). */
const MESSAGE_PROBLEMS = 5

/** HttpApi's decode issues as the 400 `invalid_request` envelope (also the lean worker path's). */
export const decodeErrorEnvelope = (issues: ReadonlyArray<DecodeIssue>) => {
  // a union member that failed at the root (e.g. `null`) only adds noise next to a field problem
  const named = issues.filter((i) => i.path.length > 0)
  const seen = new Set<string>()
  const relevant = (named.length > 0 ? named : issues).filter((i) => {
    const key = `${fieldName(i.path)}\u0000${i.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const named_ = relevant.slice(0, MESSAGE_PROBLEMS).map((i) =>
    i.path.length > 0 ? `field \`${fieldName(i.path)}\`: ${cut(i.message)}` : cut(i.message)
  )
  const rest = relevant.length - named_.length
  const text = relevant.length === 0
    ? "the request does not match what this route accepts"
    : named_.join("; ") + (rest > 0 ? `; and ${rest} more problem${rest === 1 ? "" : "s"} (see error.details)` : "")
  return envelopeResponse(400, "invalid_request", `invalid request: ${text}`, {
    details: relevant.map((i) => ({ path: fieldName(i.path), message: i.message }))
  })
}

const utf8 = new TextDecoder()

// HttpApi encodes its own decode failures as `{_tag: "HttpApiDecodeError", issues, message}`
// before any middleware sees them; rewrite exactly those into the envelope.
const rewriteDecodeError = (response: HttpServerResponse.HttpServerResponse) => {
  if (response.status !== 400 || response.body._tag !== "Uint8Array") return response
  try {
    const body: unknown = JSON.parse(utf8.decode(response.body.body))
    if (typeof body === "object" && body !== null && "_tag" in body && body._tag === "HttpApiDecodeError") {
      const issues = "issues" in body && Array.isArray(body.issues) ? body.issues as Array<DecodeIssue> : []
      return decodeErrorEnvelope(issues)
    }
  } catch {
    // not JSON: not a decode error
  }
  return response
}

const decodes = (path: string): boolean => {
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}

const handleCause = (
  request: HttpServerRequest.HttpServerRequest,
  allowedMethods: ReturnType<typeof makeAllowedMethods>,
  cause: Cause.Cause<unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled> => {
  // a client that went away or a server shutting down: nobody to answer
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const failure = Cause.failureOption(cause)
  const error: unknown = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))

  if (isApiError(error)) return Effect.succeed(apiErrorResponse(error))
  if (HttpServerResponse.isServerResponse(error)) return Effect.succeed(error)
  if (error instanceof HttpServerError.RouteNotFound) {
    const methods = allowedMethods(request.url)
    if (methods.includes(request.method) && !decodes(pathOf(request.url))) {
      // the shape matched but the router could not read the path
      return Effect.succeed(envelopeResponse(
        400,
        "invalid_path",
        `the path ${pathOf(request.url)} is not valid percent-encoding; encode it as UTF-8`
      ))
    }
    return Effect.succeed(
      methods.length === 0 || methods.includes(request.method)
        ? envelopeResponse(
          404,
          "not_found",
          `no route ${request.method} ${pathOf(request.url)}.${
            allowedMethods.didYouMean(request.method, request.url)
          } Every route is listed at /docs and GET /v1/openapi.json.`
        )
        : envelopeResponse(
          405,
          "method_not_allowed",
          `${request.method} is not allowed on ${pathOf(request.url)}; use ${methods.join(", ")}`,
          { headers: { allow: methods.join(", ") } }
        )
    )
  }
  if (error instanceof HttpServerError.RequestError) {
    return Effect.succeed(bodyErrorResponse(error.cause, error.description))
  }
  return unexpectedFailure(request.method, request.url, cause)
}

/** Logged, and a 500 that says where to look (the lean worker path answers its defects alike). */
export const unexpectedFailure = (method: string, url: string, cause: Cause.Cause<unknown>) =>
  Effect.logError("request failed with an unexpected error", cause).pipe(
    Effect.annotateLogs({ method, url }),
    Effect.as(envelopeResponse(500, "internal_error", "internal server error; the server log has the details"))
  )

/** A body that could not be read or parsed (`cause` from limits.ts): 413, 400 `too_deep` / `invalid_json` / `bad_request`. */
export const bodyErrorResponse = (cause: unknown, description: string | undefined): HttpServerResponse.HttpServerResponse => {
  if (cause instanceof BodyTooLarge) {
    const { declared, limit } = cause
    return envelopeResponse(
      413,
      "payload_too_large",
      `the request body ${
        declared === undefined ? "exceeds" : `is ${declared} bytes, over`
      } the limit of ${limit} bytes for this route; send less`,
      { headers: { connection: "close" } }
    )
  }
  if (cause instanceof JsonTooDeep) return envelopeResponse(400, "too_deep", tooDeepMessage("the request body"))
  if (cause instanceof InvalidJsonBody) {
    return envelopeResponse(400, "invalid_json", `the request body is not valid JSON (${cause.reason}); send one JSON value`)
  }
  return envelopeResponse(
    400,
    "bad_request",
    `the request could not be read${description ? ` (${description})` : ""}; send it again`
  )
}

/**
 * Global router middleware: puts the body limit on the request and turns every error
 * into the envelope. `routes` is what the 405 decision knows about.
 */
/**
 * An answer to an upgrade request that did not upgrade ends the connection: the socket
 * was taken out of Node's HTTP parser, so it cannot carry a next request (WsUpgrade.ts
 * destroys it once the answer is written). Saying so keeps pooled clients off it.
 */
const closeRefusedUpgrade = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse =>
  request.headers.upgrade === undefined ? response : HttpServerResponse.setHeader(response, "connection", "close")

export const ErrorEnvelopeLive = (routes: ReadonlyArray<KnownRoute>) =>
  HttpLayerRouter.middleware(
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const allowedMethods = makeAllowedMethods(routes)
      const edge = makeEdgeRules(config)
      // one `withFiberRuntime` and one `matchCauseEffect` per request: the request is read from
      // the fiber's context without an effect of its own, and success and failure are finished in
      // the same step (this middleware runs on every request, so its cost is the floor of each)
      return (httpEffect) =>
        Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, HttpLayerRouter.unhandled>((fiber) => {
          const original = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
          const path = pathOf(original.url)
          const cors = edge.corsHeaders(original.headers)
          const finish = (response: HttpServerResponse.HttpServerResponse) => {
            const closed = closeRefusedUpgrade(original, response)
            return cors === undefined ? closed : HttpServerResponse.setHeaders(closed, cors)
          }
          // Host, Origin and content type before any route runs or any body is read
          const refused = edge.check(original.method, path, original.headers)
          if (refused !== undefined) return Effect.succeed(finish(refused))
          const plain = asPlainJson(original.headers)
          const request = plain === undefined ? original : original.modify({ headers: Headers.fromInput(plain) })
          const limit = bodyLimitFor(path, config.limits)
          // the usual case limits the request in place: no new request, so no context copy
          const limited = request === original && limitInPlace(original, limit)
            ? httpEffect
            : Effect.provideService(httpEffect, HttpServerRequest.HttpServerRequest, withBodyLimit(request, limit))
          return Effect.matchCauseEffect(limited, {
            onSuccess: (response) => Effect.succeed(finish(rewriteDecodeError(response))),
            onFailure: (cause) => Effect.map(handleCause(request, allowedMethods, cause), finish)
          })
        })
    }),
    { global: true }
  )
