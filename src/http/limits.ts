/**
 * Request body limits (docs/http.md, "Credentials and limits": JSON 1 MiB, worker submit and
 * data emit 16 MiB). Over the limit is refused from the Content-Length header when there
 * is one, else as soon as the running count passes the limit; the body is never
 * buffered whole.
 */
import { HttpApiMiddleware, HttpServerError, HttpServerRequest, UrlParams } from "@effect/platform"
import { Data, Effect, Layer, Stream } from "effect"
import { IncomingMessage } from "node:http"
import type { BodyLimits } from "../layers/ServerConfig.js"
import { ApiErrors, UnsupportedMediaType } from "./errors.js"

/** The body is larger than the route accepts. */
export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{
  readonly limit: number
  readonly declared?: number
}> {}

/** The body of a JSON route does not parse as JSON. */
export class InvalidJsonBody extends Data.TaggedError("InvalidJsonBody")<{
  readonly reason: string
}> {}

/** Worker and data routes carry raw results; everything else is JSON. */
export const bodyLimitFor = (path: string, limits: BodyLimits): number =>
  path.startsWith("/v1/worker/") || path.startsWith("/v1/data/") ? limits.workerBody : limits.jsonBody

export const declaredLength = (headers: Readonly<Record<string, string | undefined>>): number | undefined => {
  const raw = headers["content-length"]
  if (raw === undefined) return undefined
  const n = Number(raw)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

const readCapped = (source: IncomingMessage, limit: number): Effect.Effect<Uint8Array, BodyTooLarge | Error> =>
  Effect.async((resume) => {
    const declared = declaredLength(source.headers as Record<string, string | undefined>)
    if (declared !== undefined && declared > limit) {
      resume(Effect.fail(new BodyTooLarge({ limit, declared })))
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("close", onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // stop pulling; the 413 goes out with Connection: close and node discards the rest
        cleanup()
        source.pause()
        resume(Effect.fail(new BodyTooLarge({ limit })))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(error))
    }
    const onClose = () => {
      if (source.complete) return
      cleanup()
      resume(Effect.fail(new Error("the client closed the connection before the body was complete")))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    source.once("close", onClose)
    return Effect.sync(cleanup)
  })

const decoder = new TextDecoder()

/**
 * The same request with `text` / `json` / `arrayBuffer` / `urlParamsBody` / `stream`
 * read through `readCapped`. Failures are `RequestError`s whose `cause` is
 * `BodyTooLarge` or `InvalidJsonBody`; the error middleware turns them into 413 / 400.
 */
export const withBodyLimit = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): HttpServerRequest.HttpServerRequest => {
  const source = (request as { readonly source?: unknown }).source
  if (!(source instanceof IncomingMessage)) return request
  const fail = (cause: unknown) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
  // built on first use: most requests never read a body
  let cached: Effect.Effect<Uint8Array, HttpServerError.RequestError> | undefined
  const bytes = Effect.suspend(() =>
    cached ??= Effect.runSync(Effect.cached(Effect.mapError(readCapped(source, limit), fail)))
  )
  const text = Effect.map(bytes, (b) => decoder.decode(b))
  const json = Effect.flatMap(text, (t) =>
    Effect.try({
      try: (): unknown => (t === "" ? null : JSON.parse(t)),
      catch: (e) => fail(new InvalidJsonBody({ reason: e instanceof Error ? e.message : String(e) }))
    }))
  const overrides: Record<PropertyKey, unknown> = {
    text,
    json,
    arrayBuffer: Effect.map(bytes, (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer),
    urlParamsBody: Effect.map(text, (t) => UrlParams.fromInput(new URLSearchParams(t))),
    stream: Stream.fromEffect(bytes),
    modify: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) =>
      withBodyLimit(request.modify(options), limit)
  }
  return new Proxy(request, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop]
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })
}

const bodyMethods = new Set(["POST", "PUT", "PATCH"])

/** `application/json` or any `+json` type. */
export const isJsonContentType = (value: string): boolean => {
  const media = value.split(";")[0]!.trim().toLowerCase()
  return media === "application/json" || media.endsWith("+json")
}

/**
 * Endpoint middleware for JSON payloads: a non-empty body must be JSON (415). A missing
 * Content-Type is read as JSON, as HttpApi does.
 */
export class JsonBody extends HttpApiMiddleware.Tag<JsonBody>()("swarmgate/JsonBody", {
  failure: ApiErrors.UnsupportedMediaType
}) {
  static readonly layer: Layer.Layer<JsonBody> = Layer.succeed(
    JsonBody,
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!bodyMethods.has(request.method)) return
      const contentType = request.headers["content-type"]
      if (contentType === undefined || isJsonContentType(contentType)) return
      if (declaredLength(request.headers) === 0) return
      return yield* new UnsupportedMediaType({
        code: "unsupported_media_type",
        message: `the body must be JSON, got Content-Type ${JSON.stringify(contentType)}; send it with ` +
          `Content-Type: application/json`
      })
    })
  )
}
