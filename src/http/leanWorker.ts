/**
 * The lean path of the sub-agent's routes (docs/performance.md, "The lean worker path"): a
 * Node request listener in front of the platform's that serves the ordinary case of the five
 * `/v1/worker/*` routes without the router, the HttpApi middleware chain and a request
 * object per request, and hands every other request to the platform untouched.
 *
 * What it claims, it claims before reading anything: the exact method and path of a worker
 * endpoint, a request the edge rules pass (Host, declared size, content type), no `Origin`
 * and no upgrade, a well-formed `Bearer`, a plain query whose url params decode. A
 * credential that does not verify goes to the platform too (nothing has been read yet).
 * Every such refusal is therefore the platform's own. What it answers itself — after the
 * body — it answers with the declaration's schemas (WorkerApi's endpoint objects), the same
 * body limits, depth and JSON rules (limits.ts), the same engine-error mapping, the same
 * envelope and the same request counter labels.
 */
import { type HttpApiEndpoint, HttpServerError, HttpServerResponse } from "@effect/platform"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import { Cause, Data, Effect, Either, Metric, Option, ParseResult, Runtime, Schema } from "effect"
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http"
import type { ServerConfigShape } from "../layers/ServerConfig.js"
import type { CapabilitiesShape, StepBinding } from "../services/Capabilities.js"
import type { WorkerShape } from "../services/Worker.js"
import { bearerValue } from "./auth.js"
import { makeEdgeRules } from "./edge.js"
import { engineError } from "./engineErrors.js"
import { bodyErrorResponse, decodeErrorEnvelope, unexpectedFailure } from "./ErrorMiddleware.js"
import { type ApiError, apiErrorResponse } from "./errors.js"
import { bodyLimitFor, parseJsonBody, readCapped } from "./limits.js"
import { httpRequestsOf } from "./httpMetrics.js"
import { type AskBody, type ResultBody, submitVerdict, WorkerApi } from "./WorkerApi.js"
import { refuseDeepResult } from "./WorkerHttp.js"

export type WorkerRoute = "prompt" | "submit" | "result" | "artifact" | "ask"
// a worker endpoint added to the declaration must be served here too: this fails to compile until it is
const _everyRoute: Record<keyof typeof WorkerApi.endpoints, WorkerRoute> = {
  prompt: "prompt",
  submit: "submit",
  result: "result",
  artifact: "artifact",
  ask: "ask"
}

type Sch = Schema.Schema<unknown, unknown, never>

/** The declaration of the routes this path serves: WorkerApi's own endpoint objects (their schemas need no services). */
const endpoints = WorkerApi.endpoints as unknown as Record<WorkerRoute, {
  readonly method: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps["method"]
  readonly path: string
  readonly urlParamsSchema: Option.Option<Sch>
  readonly payloadSchema: Option.Option<Sch>
  readonly successSchema: Sch
}>

/** `METHOD path` of each worker endpoint, from the declaration. */
export const leanRoutes: ReadonlyMap<string, WorkerRoute> = new Map(
  Object.values(_everyRoute).map((name) => [`${endpoints[name].method} ${endpoints[name].path}`, name])
)

/** A body that could not be read or parsed; `cause` is limits.ts's (413, 400 too_deep / invalid_json). */
class BodyUnreadable extends Data.TaggedError("BodyUnreadable")<{ readonly cause: unknown }> {}

/** The request the lean path has taken on: which route, the bearer value, the decoded url params. */
export interface Claim {
  readonly route: WorkerRoute
  readonly path: string
  readonly token: string
  readonly urlParams: unknown
}

type Headers = Readonly<Record<string, string | undefined>>

// a query both the platform's parser and URLSearchParams read alike: no escapes, no `+`, no repeats
const plainQuery = /^[\w.~-]+=[\w.~:-]*(?:&[\w.~-]+=[\w.~:-]*)*$/

const paramsOf = (query: string): Record<string, string> | undefined => {
  if (query === "") return {}
  if (!plainQuery.test(query)) return undefined
  const out: Record<string, string> = {}
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=")
    const key = pair.slice(0, eq)
    if (key in out) return undefined
    out[key] = pair.slice(eq + 1)
  }
  return out
}

const isPlainJsonOrAbsent = (contentType: string | undefined) =>
  contentType === undefined || contentType.split(";")[0]!.trim().toLowerCase() === "application/json"

/** Whether the lean path takes this request, and what it read from the head to decide. */
export const makeClaim = (config: ServerConfigShape) => {
  const edge = makeEdgeRules(config)
  return (method: string, url: string, headers: Headers): Claim | undefined => {
    const q = url.indexOf("?")
    const path = q === -1 ? url : url.slice(0, q)
    const route = leanRoutes.get(`${method} ${path}`)
    if (route === undefined) return undefined
    // browsers (CORS headers), upgrades and every edge refusal stay the platform's
    if (headers["origin"] !== undefined || headers["upgrade"] !== undefined) return undefined
    if (edge.check(method, path, headers) !== undefined) return undefined
    const token = bearerValue(headers["authorization"])
    if (token === undefined) return undefined
    const endpoint = endpoints[route]
    // HttpApi reads other types as text or bytes (an empty `+json` or text body decodes differently)
    if (Option.isSome(endpoint.payloadSchema) && !isPlainJsonOrAbsent(headers["content-type"])) return undefined
    let urlParams: unknown = undefined
    if (Option.isSome(endpoint.urlParamsSchema)) {
      const params = paramsOf(q === -1 ? "" : url.slice(q + 1))
      if (params === undefined) return undefined
      const decoded = Schema.decodeUnknownEither(endpoint.urlParamsSchema.value)(params)
      // the platform decodes url params after the credential: its 401 or 400, by construction
      if (Either.isLeft(decoded)) return undefined
      urlParams = decoded.right
    }
    return { route, path, token, urlParams }
  }
}

export interface LeanWorkerDeps {
  readonly config: ServerConfigShape
  readonly worker: WorkerShape
  readonly capabilities: CapabilitiesShape
}

const utf8 = new TextDecoder()

/** The response as the platform's Node server writes it (platform-node `handleResponse`). */
const write = (res: ServerResponse, response: HttpServerResponse.HttpServerResponse) => {
  if (res.writableEnded) return
  res.writeHead(response.status, response.headers)
  if (response.body._tag === "Uint8Array") res.end(response.body.body)
  else res.end()
}

/**
 * The front listener over `platform` (the router's listener), answering on `runtime` (the
 * layer's, so services and logging are the server's). A client that goes away interrupts
 * the request's fiber, as on the platform (a sub-agent's ask is then withdrawn).
 */
export const makeLeanWorker = (deps: LeanWorkerDeps, runtime: Runtime.Runtime<never>) => {
  const claim = makeClaim(deps.config)
  const runFork = Runtime.runFork(runtime)
  const { worker, capabilities, config } = deps
  const encoders = {
    prompt: Schema.encodeUnknown(endpoints.prompt.successSchema),
    submit: Schema.encodeUnknown(endpoints.submit.successSchema),
    result: Schema.encodeUnknown(endpoints.result.successSchema),
    artifact: Schema.encodeUnknown(endpoints.artifact.successSchema),
    ask: Schema.encodeUnknown(endpoints.ask.successSchema)
  }
  const decodeResult = Schema.decodeUnknown(
    Option.getOrThrow(endpoints.result.payloadSchema) as Schema.Schema<typeof ResultBody.Type, unknown>
  )
  const decodeAsk = Schema.decodeUnknown(
    Option.getOrThrow(endpoints.ask.payloadSchema) as Schema.Schema<typeof AskBody.Type, unknown>
  )

  const success = (encode: (a: unknown) => Effect.Effect<unknown, ParseResult.ParseError>) => (value: unknown) =>
    Effect.map(Effect.orDie(encode(value)), (encoded) => HttpServerResponse.unsafeJson(encoded, { status: 200 }))

  const bytes = (req: IncomingMessage, path: string) =>
    Effect.mapError(readCapped(req, bodyLimitFor(path, config.limits)), (cause) => new BodyUnreadable({ cause }))

  /** A JSON body decoded by the endpoint's payload schema; its failure is HttpApi's 400 envelope. */
  const payload = <A>(
    req: IncomingMessage,
    path: string,
    decode: (u: unknown) => Effect.Effect<A, ParseResult.ParseError>
  ): Effect.Effect<A, BodyUnreadable | HttpServerResponse.HttpServerResponse> =>
    Effect.flatMap(bytes(req, path), (body) =>
      Either.match(parseJsonBody(utf8.decode(body)), {
        onLeft: (cause): Effect.Effect<A, BodyUnreadable | HttpServerResponse.HttpServerResponse> =>
          Effect.fail(new BodyUnreadable({ cause })),
        onRight: (json) =>
          Effect.catchTag(decode(json), "ParseError", (error) =>
            Effect.flatMap(HttpApiDecodeError.fromParseError(error), (e) => Effect.fail(decodeErrorEnvelope(e.issues))))
      }))

  const answer = (
    c: Claim,
    step: StepBinding,
    req: IncomingMessage
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, ApiError | BodyUnreadable | HttpServerResponse.HttpServerResponse> => {
    switch (c.route) {
      case "prompt": {
        const { task_id } = c.urlParams as { readonly task_id?: string }
        return Effect.flatMap(Effect.mapError(worker.prompt(step, task_id), engineError), success(encoders.prompt))
      }
      case "submit":
        return Effect.gen(function*() {
          const params = c.urlParams as Parameters<typeof submitVerdict>[0]
          const body = yield* bytes(req, c.path)
          yield* refuseDeepResult(body)
          return yield* success(encoders.submit)(
            yield* Effect.mapError(worker.submit(step, body, submitVerdict(params)), engineError)
          )
        })
      case "artifact":
        return Effect.gen(function*() {
          const { name } = c.urlParams as { readonly name: string }
          const body = yield* bytes(req, c.path)
          yield* refuseDeepResult(body)
          return yield* success(encoders.artifact)(yield* Effect.mapError(worker.artifact(step, name, body), engineError))
        })
      case "result":
        return Effect.flatMap(payload(req, c.path, decodeResult), (body) =>
          Effect.flatMap(Effect.mapError(worker.result(step, body), engineError), success(encoders.result)))
      case "ask":
        return Effect.flatMap(payload(req, c.path, decodeAsk), (body) =>
          Effect.flatMap(Effect.mapError(worker.ask(step, body.question), engineError), success(encoders.ask)))
    }
  }

  const serve = (c: Claim, req: IncomingMessage, res: ServerResponse, platform: RequestListener) =>
    Effect.matchEffect(capabilities.verify(c.token), {
      // nothing read yet: the platform answers the 401 (and counts it) as it always does
      onFailure: () => Effect.sync(() => platform(req, res)),
      onSuccess: (step) =>
        answer(c, step, req).pipe(
          Effect.catchAll((e) =>
            Effect.succeed(
              HttpServerResponse.isServerResponse(e)
                ? e
                : e._tag === "BodyUnreadable"
                ? bodyErrorResponse(e.cause, undefined)
                : apiErrorResponse(e)
            )
          ),
          Effect.catchAllCause((cause) =>
            // a client that went away or a server shutting down: nobody to answer
            Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : unexpectedFailure(req.method ?? "", req.url ?? "", cause)
          ),
          Effect.flatMap((response) => {
            write(res, response)
            return Metric.increment(httpRequestsOf(c.path, req.method ?? "", String(response.status)))
          })
        )
    })

  /** The listener to put on the node server in place of `platform`. */
  return (platform: RequestListener): RequestListener => (req, res) => {
    const c = claim(req.method ?? "", req.url ?? "", req.headers as Headers)
    if (c === undefined) {
      platform(req, res)
      return
    }
    const fiber = runFork(serve(c, req, res, platform))
    res.on("close", () => {
      if (!res.writableEnded) fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId)
    })
  }
}
