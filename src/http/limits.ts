/**
 * Request body limits (docs/http.md, "Credentials and limits": JSON 1 MiB, worker submit and
 * data emit 16 MiB). Over the limit is refused from the Content-Length header when there
 * is one, else as soon as the running count passes the limit; the body is never
 * buffered whole.
 */
import { HttpServerError, type HttpServerRequest, UrlParams } from "@effect/platform"
import { Data, Effect, Stream } from "effect"
import { IncomingMessage } from "node:http"
import type { BodyLimits } from "../layers/ServerConfig.js"
import { cut, isTooDeep } from "../protocol/json.js"

/** The body is larger than the route accepts. */
export class BodyTooLarge extends Data.TaggedError("BodyTooLarge")<{
  readonly limit: number
  readonly declared?: number
}> {}

/** The body of a JSON route does not parse as JSON. */
export class InvalidJsonBody extends Data.TaggedError("InvalidJsonBody")<{
  readonly reason: string
}> {}

/** A JSON body nests deeper than the limit (400 `too_deep`). */
export class JsonTooDeep extends Data.TaggedError("JsonTooDeep")<{}> {}

/** The routes whose body is raw bytes (a result, a part, an output), not JSON. */
export const RAW_BODY_PATHS: ReadonlySet<string> = new Set(["/v1/worker/submit", "/v1/worker/artifact", "/v1/data/emit"])

/** Raw worker and data bodies take the larger limit; every JSON body (worker result and ask too) 1 MiB. */
export const bodyLimitFor = (path: string, limits: BodyLimits): number =>
  RAW_BODY_PATHS.has(path) ? limits.workerBody : limits.jsonBody

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
    isTooDeep(t) ? Effect.fail(fail(new JsonTooDeep())) : Effect.try({
      try: (): unknown => (t === "" ? null : JSON.parse(t)),
      catch: (e) => fail(new InvalidJsonBody({ reason: cut(e instanceof Error ? e.message : String(e)) }))
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

/** `application/json` or any `+json` type. */
export const isJsonContentType = (value: string): boolean => {
  const media = value.split(";")[0]!.trim().toLowerCase()
  return media === "application/json" || media.endsWith("+json")
}
