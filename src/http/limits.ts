/**
 * Request body limits (docs/http.md, "Credentials and limits": JSON 1 MiB, worker submit and
 * data emit 16 MiB). Over the limit is refused from the Content-Length header when there
 * is one, else as soon as the running count passes the limit; the body is never
 * buffered whole.
 */
import { HttpServerError, type HttpServerRequest, UrlParams } from "@effect/platform"
import { Data, Effect, Either, type Exit, Stream } from "effect"
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

/** The body of `source`, refused past `limit` (declared or counted) without buffering the rest. */
export const readCapped = (source: IncomingMessage, limit: number): Effect.Effect<Uint8Array, BodyTooLarge | Error> =>
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

/** What a limited request remembers: where its body comes from, the cap, and the body once read. */
interface LimitState {
  readonly request: HttpServerRequest.HttpServerRequest
  readonly source: IncomingMessage
  readonly limit: number
  read?: Exit.Exit<Uint8Array, HttpServerError.RequestError>
}

const STATE: unique symbol = Symbol("swarmgate/limits/state")
type Limited = HttpServerRequest.HttpServerRequest & { readonly [STATE]: LimitState }

const failWith = (state: LimitState, cause: unknown) =>
  new HttpServerError.RequestError({ request: state.request, reason: "Decode", cause })

// read once; a second reader (HttpApi's payload, then a handler) gets the same bytes or error
const bytesOf = (state: LimitState): Effect.Effect<Uint8Array, HttpServerError.RequestError> =>
  state.read !== undefined ? state.read : Effect.flatten(Effect.exit(
    Effect.mapError(readCapped(state.source, state.limit), (cause) => failWith(state, cause))
  ).pipe(Effect.tap((exit) => {
    state.read = exit
  })))

const textOf = (state: LimitState) => Effect.map(bytesOf(state), (b) => decoder.decode(b))

/** A JSON body's text as a value (empty is `null`), or why not: one rule for the platform and the lean worker path. */
export const parseJsonBody = (text: string): Either.Either<unknown, JsonTooDeep | InvalidJsonBody> => {
  if (isTooDeep(text)) return Either.left(new JsonTooDeep())
  try {
    return Either.right(text === "" ? null : JSON.parse(text))
  } catch (e) {
    return Either.left(new InvalidJsonBody({ reason: cut(e instanceof Error ? e.message : String(e)) }))
  }
}

const jsonOf = (state: LimitState) =>
  Effect.flatMap(textOf(state), (t) =>
    Either.match(parseJsonBody(t), {
      onLeft: (e) => Effect.fail(failWith(state, e)),
      onRight: (value) => Effect.succeed(value)
    }))

/**
 * The body readers of a limited request, shared by every request: each getter reads its
 * state through `this`, so wrapping a request is one `Object.create` (it used to be a Proxy,
 * which cost a trap on every property read of every request).
 */
const limitedReaders: PropertyDescriptorMap = {
  text: { get(this: Limited) { return textOf(this[STATE]) } },
  json: { get(this: Limited) { return jsonOf(this[STATE]) } },
  arrayBuffer: {
    get(this: Limited) {
      return Effect.map(bytesOf(this[STATE]), (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)
    }
  },
  urlParamsBody: {
    get(this: Limited) {
      return Effect.map(textOf(this[STATE]), (t) => UrlParams.fromInput(new URLSearchParams(t)))
    }
  },
  stream: { get(this: Limited) { return Stream.fromEffect(bytesOf(this[STATE])) } },
  modify: {
    value(this: Limited, options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) {
      // the platform's own `modify`, one step up the prototype chain from these readers
      const platform = Object.getPrototypeOf(this) as HttpServerRequest.HttpServerRequest
      return withBodyLimit(platform.modify.call(this, options), this[STATE].limit)
    }
  }
}

/**
 * The same request with `text` / `json` / `arrayBuffer` / `urlParamsBody` / `stream`
 * read through `readCapped`. Failures are `RequestError`s whose `cause` is
 * `BodyTooLarge` or `InvalidJsonBody`; the error middleware turns them into 413 / 400.
 * Everything else is the request itself (it is the prototype of the wrapper).
 */
export const withBodyLimit = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): HttpServerRequest.HttpServerRequest => {
  const source = (request as { readonly source?: unknown }).source
  if (!(source instanceof IncomingMessage)) return request
  const limited = Object.create(request, limitedReaders) as Limited
  ;(limited as { [STATE]: LimitState })[STATE] = { request, source, limit }
  return limited
}

/**
 * `withBodyLimit` on the request object itself, for the server's own request of this
 * connection (nobody else holds it): the error middleware then needs no new request in the
 * context, which saved a copy of the whole context per request. False when the request
 * does not read from a Node message (then use `withBodyLimit`).
 */
export const limitInPlace = (request: HttpServerRequest.HttpServerRequest, limit: number): boolean => {
  const source = (request as { readonly source?: unknown }).source
  if (!(source instanceof IncomingMessage)) return false
  Object.defineProperties(request, limitedReaders)
  ;(request as unknown as { [STATE]: LimitState })[STATE] = { request, source, limit }
  return true
}

/** `application/json` or any `+json` type. */
export const isJsonContentType = (value: string): boolean => {
  const media = value.split(";")[0]!.trim().toLowerCase()
  return media === "application/json" || media.endsWith("+json")
}
