/**
 * The rules every request meets before any route (the HTTP API "Browser safety and
 * access"): the `Host` must be one of ours (DNS rebinding), a browser `Origin` must be
 * ours or allowed (cross-site pages), and a JSON route reads a body only when it says it is
 * JSON (no form or `text/plain` post ever becomes a run). Pure functions of the request
 * headers and the config; `ErrorMiddleware.ts` applies them first.
 */
import { HttpServerResponse } from "@effect/platform"
import type { ServerConfigShape } from "../layers/ServerConfig.js"
import { cut } from "../protocol/json.js"
import { envelopeResponse } from "./errors.js"
import { bodyLimitFor, declaredLength, isJsonContentType, RAW_BODY_PATHS } from "./limits.js"

type Headers = Readonly<Record<string, string | undefined>>

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"])
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"])

/** `name` of `name:port`, `[v6]:port` or a bare name, lower-cased. */
export const hostName = (host: string): string => {
  const h = host.trim().toLowerCase()
  if (h.startsWith("[")) {
    const end = h.indexOf("]")
    return end === -1 ? h : h.slice(0, end + 1)
  }
  const colon = h.indexOf(":")
  return colon === -1 ? h : h.slice(0, colon)
}

const bracketed = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

/** The names a `Host` header may carry on this server. */
export const allowedHostNames = (config: ServerConfigShape): ReadonlySet<string> => {
  const names = new Set(LOOPBACK_NAMES)
  for (const h of config.allowHosts) names.add(hostName(bracketed(h)))
  if (config.publicUrl !== undefined) {
    try {
      names.add(new URL(config.publicUrl).hostname.toLowerCase())
    } catch {
      // serve validates --public-url; a bad one here only adds nothing
    }
  }
  // the address it was bound to by name (an IP literal cannot be rebound by DNS)
  const bound = config.host.trim().toLowerCase()
  if (bound !== "" && !WILDCARDS.has(bound)) names.add(hostName(bracketed(bound)))
  return names
}

const normalOrigin = (origin: string): string | undefined => {
  try {
    const url = new URL(origin)
    return url.origin === "null" ? undefined : url.origin.toLowerCase()
  } catch {
    return undefined
  }
}

/** Origins allowed beside the server's own: `--allow-origin` and the origin of `--public-url`. */
export const allowedOrigins = (config: ServerConfigShape): { readonly own: ReadonlySet<string>; readonly extra: ReadonlySet<string> } => {
  const own = new Set<string>()
  if (config.publicUrl !== undefined) {
    const o = normalOrigin(config.publicUrl)
    if (o !== undefined) own.add(o)
  }
  const extra = new Set<string>()
  for (const o of config.allowOrigins) {
    const n = normalOrigin(o)
    if (n !== undefined) extra.add(n)
  }
  return { own, extra }
}

export interface EdgeRules {
  /** A refusal to send instead of running the route, or undefined. */
  readonly check: (method: string, path: string, headers: Headers) => HttpServerResponse.HttpServerResponse | undefined
  /** CORS headers for an allowed foreign origin (none otherwise). */
  readonly corsHeaders: (headers: Headers) => Record<string, string> | undefined
}

const hasBody = (headers: Headers): boolean => {
  const length = headers["content-length"]
  if (length !== undefined) return length.trim() !== "0"
  return headers["transfer-encoding"] !== undefined
}

const bodyMethods = new Set(["POST", "PUT", "PATCH"])

export const makeEdgeRules = (config: ServerConfigShape): EdgeRules => {
  const hosts = allowedHostNames(config)
  const origins = allowedOrigins(config)

  /** Whether the origin is this server as the browser reached it, or an allowed one. */
  const originVerdict = (origin: string, host: string | undefined): "own" | "allowed" | "refused" => {
    const o = normalOrigin(origin)
    if (o === undefined) return "refused"
    if (origins.own.has(o)) return "own"
    if (host !== undefined && (o === `http://${host.trim().toLowerCase()}` || o === `https://${host.trim().toLowerCase()}`)) {
      return "own"
    }
    return origins.extra.has(o) ? "allowed" : "refused"
  }

  const check: EdgeRules["check"] = (method, path, headers) => {
    const host = headers["host"]
    if (host === undefined || !hosts.has(hostName(host))) {
      return envelopeResponse(
        421,
        "host_not_allowed",
        `this server does not answer to the host ${JSON.stringify(cut(host ?? "", 100))}; use http://127.0.0.1:<port>, ` +
          `or start serve with --allow-host <name> (or --public-url) for the name you use`
      )
    }
    const origin = headers["origin"]
    if (origin !== undefined && originVerdict(origin, host) === "refused") {
      return envelopeResponse(
        403,
        "origin_not_allowed",
        `requests from the web origin ${JSON.stringify(cut(origin, 100))} are refused, so that no web page can drive ` +
          `this server; start serve with --allow-origin <origin> to allow one`
      )
    }
    if (method === "OPTIONS" && origin !== undefined && headers["access-control-request-method"] !== undefined) {
      // a preflight from an allowed origin: answered here, with the CORS headers added by the caller
      return HttpServerResponse.empty({ status: 204 })
    }
    // a declared length over the route's limit costs nothing: refused before any credential or body
    const declared = declaredLength(headers)
    const limit = bodyLimitFor(path, config.limits)
    if (declared !== undefined && declared > limit) {
      return envelopeResponse(
        413,
        "payload_too_large",
        `the request body is ${declared} bytes, over the limit of ${limit} bytes for this route; send less`,
        { headers: { connection: "close" } }
      )
    }
    if (bodyMethods.has(method) && !RAW_BODY_PATHS.has(path) && hasBody(headers)) {
      const contentType = headers["content-type"]
      if (contentType === undefined || !isJsonContentType(contentType)) {
        return envelopeResponse(
          415,
          "unsupported_media_type",
          `the body must be JSON, got ${
            contentType === undefined ? "no Content-Type" : `Content-Type ${JSON.stringify(cut(contentType, 100))}`
          }; send it with Content-Type: application/json`
        )
      }
    }
    return undefined
  }

  const corsHeaders: EdgeRules["corsHeaders"] = (headers) => {
    const origin = headers["origin"]
    if (origin === undefined || originVerdict(origin, headers["host"]) !== "allowed") return undefined
    return {
      "access-control-allow-origin": normalOrigin(origin)!,
      "access-control-allow-methods": "GET, POST, PUT, DELETE",
      "access-control-allow-headers": "authorization, content-type, last-event-id, x-api-token",
      "access-control-max-age": "600",
      vary: "origin"
    }
  }

  return { check, corsHeaders }
}

/** `+json` types are JSON: HttpApi reads a body as JSON only for `application/json`. */
export const asPlainJson = (headers: Headers): Headers | undefined => {
  const contentType = headers["content-type"]
  if (contentType === undefined || !isJsonContentType(contentType)) return undefined
  const media = contentType.split(";")[0]!.trim().toLowerCase()
  return media === "application/json" ? undefined : { ...headers, "content-type": "application/json" }
}
