/**
 * Credentials at the API edge (the HTTP API's browser-safety rules, operator and
 * worker routes). Each kind of credential is one `HttpApiMiddleware`: it runs before the
 * handler and before any body is read (HTTP API: a credentialed route checks the
 * credential first), and hands the handler what the credential proved — the step a worker
 * credential is bound to, the session a token belongs to — so no handler parses headers.
 */
import { HttpApiMiddleware, HttpRouter, HttpServerRequest } from "@effect/platform"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { ServerConfig } from "../layers/ServerConfig.js"
import { isSessionToken } from "../protocol/ids.js"
import { Capabilities, type StepBinding } from "../services/Capabilities.js"
import { type LiveSession, Sessions } from "../services/Sessions.js"
import type { DataAccess } from "../services/Worker.js"
import { engineError } from "./engineErrors.js"
import { ApiErrors, Forbidden, NotFound, Unauthorized } from "./errors.js"

/** Kept for OpenAPI: the header is optional so its absence is a 401, not a 400. */
export const AuthHeaders = Schema.Struct({
  authorization: Schema.optionalWith(Schema.String, { exact: true })
})

const bearer = /^Bearer[ \t]+([^\s]+)[ \t]*$/i

/** The token of a well-formed `Bearer` header, else undefined (the lean worker path's sync check). */
export const bearerValue = (authorization: string | undefined): string | undefined => {
  if (authorization === undefined) return undefined
  const match = bearer.exec(authorization)
  return match === null ? undefined : match[1]
}

/** The bearer value, or 401 `missing_credential` / `malformed_credential`. */
export const bearerToken = (authorization: string | undefined): Effect.Effect<string, Unauthorized> => {
  if (authorization === undefined || authorization.trim() === "") {
    return Effect.fail(
      new Unauthorized({
        code: "missing_credential",
        message: "this route needs a credential; send Authorization: Bearer <token>"
      })
    )
  }
  const match = bearer.exec(authorization)
  if (match === null) {
    return Effect.fail(
      new Unauthorized({
        code: "malformed_credential",
        message: "the Authorization header must be exactly: Bearer <token>"
      })
    )
  }
  return Effect.succeed(match[1]!)
}

const requestBearer = Effect.flatMap(HttpServerRequest.HttpServerRequest, (r) => bearerToken(r.headers.authorization))

const digest = (s: string) => createHash("sha256").update(s).digest()

/** Constant time whatever the lengths (S4): compares digests. */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b))

/** The header that carries the API token when `Authorization` carries a session's token. */
export const API_TOKEN_HEADER = "x-api-token"

/**
 * The API token on blueprint, task and run routes (the HTTP API's "API token beyond
 * loopback"). Without a configured token (a loopback bind) everything passes.
 */
export class ApiAccess extends HttpApiMiddleware.Tag<ApiAccess>()("swarmgate/ApiAccess", {
  failure: ApiErrors.Unauthorized
}) {
  static readonly layer: Layer.Layer<ApiAccess, never, ServerConfig> = Layer.effect(
    ApiAccess,
    Effect.map(ServerConfig, (config) =>
      Effect.gen(function*() {
        const expected = config.apiToken
        if (expected === undefined) return
        const request = yield* HttpServerRequest.HttpServerRequest
        const side = request.headers[API_TOKEN_HEADER]
        if (side !== undefined && sameSecret(side.trim(), expected)) return
        const auth = request.headers.authorization
        const match = auth === undefined ? null : bearer.exec(auth)
        if (match !== null && sameSecret(match[1]!, expected)) return
        return yield* new Unauthorized({
          code: auth === undefined && side === undefined ? "missing_api_token" : "bad_api_token",
          message: "this server needs its API token on blueprint, task and run routes; send " +
            "Authorization: Bearer <api token> (or X-Api-Token: <api token> when Authorization carries a " +
            "session's token); the token is the one given to serve with --api-token or SWARMGATE_API_TOKEN"
        })
      }))
  )
}

/** The step a worker credential is bound to. */
export class WorkerStep extends Context.Tag("swarmgate/http/WorkerStep")<WorkerStep, StepBinding>() {}

/** A worker credential from the header, or (data emit) from `?token=` when there is no header. */
// every worker request passes here: plain flatMaps, the query string only without a header
const workerCredential = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
  const authorization = request.headers.authorization
  if (authorization !== undefined) return bearerToken(authorization)
  return Effect.flatMap(HttpServerRequest.ParsedSearchParams, (params) => {
    const token = params["token"]
    return typeof token === "string" && token !== "" ? Effect.succeed(token) : bearerToken(undefined)
  })
})

/** Worker routes: `Bearer <worker_handle | capability_token>`, verified before the body is read. */
export class WorkerAuth extends HttpApiMiddleware.Tag<WorkerAuth>()("swarmgate/WorkerAuth", {
  failure: ApiErrors.Unauthorized,
  provides: WorkerStep
}) {
  static readonly layer: Layer.Layer<WorkerAuth, never, Capabilities> = Layer.effect(
    WorkerAuth,
    Effect.map(Capabilities, (caps) =>
      Effect.flatMap(workerCredential, (credential) => Effect.mapError(caps.verify(credential), engineError)))
  )
}

/** Who reads the data path. */
export class DataReader extends Context.Tag("swarmgate/http/DataReader")<DataReader, DataAccess>() {}

/** `GET /v1/data/:ref`: a worker credential of the run, or any live operator session's token. */
export class DataAuth extends HttpApiMiddleware.Tag<DataAuth>()("swarmgate/DataAuth", {
  failure: ApiErrors.Unauthorized,
  provides: DataReader
}) {
  static readonly layer: Layer.Layer<DataAuth, never, Capabilities | Sessions> = Layer.effect(
    DataAuth,
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const sessions = yield* Sessions
      return Effect.gen(function*(): Effect.fn.Return<DataAccess, Unauthorized, HttpServerRequest.HttpServerRequest> {
        const token = yield* requestBearer
        // a session token is 32 hex; worker handles (`wh-…`) and capability tokens (base64url) never are
        if (!isSessionToken(token)) {
          const binding = yield* Effect.mapError(caps.verify(token), engineError)
          return { _tag: "worker", credential: binding } as const
        }
        if (yield* sessions.isKnownTokenOfAnySession(token)) return { _tag: "operator" } as const
        return yield* new Unauthorized({
          code: "bad_credential",
          message: "the token is neither a live operator session's token nor a worker credential; send " +
            "a worker handle of this run or an operator session token"
        })
      })
    })
  )
}

/** The session of the path's `:sid`, proven by its token. */
export class AuthedSession extends Context.Tag("swarmgate/http/AuthedSession")<AuthedSession, LiveSession>() {}

/** Per-sid operator routes: credential shape (401), then the sid (404), then the token (401). */
export class SessionAuth extends HttpApiMiddleware.Tag<SessionAuth>()("swarmgate/SessionAuth", {
  failure: Schema.Union(ApiErrors.Unauthorized, ApiErrors.NotFound),
  provides: AuthedSession
}) {
  static readonly layer: Layer.Layer<SessionAuth, never, Sessions> = Layer.effect(
    SessionAuth,
    Effect.map(Sessions, (sessions) =>
      Effect.gen(function*() {
        const token = yield* requestBearer
        const route = yield* HttpRouter.RouteContext
        const sid = route.params["sid"] ?? ""
        return yield* sessions.authenticate(sid, token).pipe(
          Effect.mapError((e) =>
            e._tag === "UnknownSession"
              ? new NotFound({ code: "unknown_session", message: e.message })
              : new Unauthorized({ code: "bad_credential", message: e.message })
          )
        )
      }))
  )
}

/** `GET /v1/operators`: the token of any live session. */
export class AnySessionAuth extends HttpApiMiddleware.Tag<AnySessionAuth>()("swarmgate/AnySessionAuth", {
  failure: ApiErrors.Unauthorized
}) {
  static readonly layer: Layer.Layer<AnySessionAuth, never, Sessions> = Layer.effect(
    AnySessionAuth,
    Effect.map(Sessions, (sessions) =>
      Effect.gen(function*() {
        const token = yield* requestBearer
        if (yield* sessions.isKnownTokenOfAnySession(token)) return
        return yield* new Unauthorized({
          code: "bad_credential",
          message: "the token is not the token of any live operator session; log in with POST /v1/operators"
        })
      }))
  )
}

/**
 * A session token whose sid is in the body (seating a run, acquire): the body names the
 * session, so the check happens once it is decoded; the middleware only reads the header.
 */
export class PresentedToken extends Context.Tag("swarmgate/http/PresentedToken")<
  PresentedToken,
  Effect.Effect<string, Unauthorized>
>() {}

export class SessionTokenHeader extends HttpApiMiddleware.Tag<SessionTokenHeader>()("swarmgate/SessionTokenHeader", {
  provides: PresentedToken
}) {
  static readonly layer: Layer.Layer<SessionTokenHeader> = Layer.succeed(
    SessionTokenHeader,
    Effect.map(HttpServerRequest.HttpServerRequest, (r) => bearerToken(r.headers.authorization))
  )
}

/**
 * Acting for session `sid` (HTTP API: seating is an act of that session): unknown sid
 * 404, no or malformed credential 401, a token of no session 401, another session's 403.
 */
export const actAs = (sid: string) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const presented = yield* PresentedToken
    if (Option.isNone(yield* sessions.get(sid))) {
      return yield* new NotFound({
        code: "unknown_session",
        message: `no live operator session ${sid}; log in with POST /v1/operators and use the sid it returns`
      })
    }
    const token = yield* presented
    const proven = yield* Effect.either(sessions.authenticate(sid, token))
    if (proven._tag === "Right") return proven.right
    if (yield* sessions.isKnownTokenOfAnySession(token)) {
      return yield* new Forbidden({
        code: "not_your_session",
        message: `the token belongs to another operator session than ${sid}; only ${sid} can seat itself ` +
          `(send that session's own token)`
      })
    }
    return yield* new Unauthorized({
      code: "bad_credential",
      message: `wrong token for operator session ${sid}; send Authorization: Bearer <that session's token>`
    })
  })

/** The WebSocket subprotocol of the operator socket (docs/operators.md, Connect). */
export const WS_PROTOCOL = "swarmgate.v1"
const BEARER_PROTOCOL = "bearer."

/**
 * The operator socket's credential: `Authorization: Bearer`, or (browsers cannot set
 * headers) the subprotocol list `swarmgate.v1, bearer.<token>`. Never the query string,
 * which ends up in logs: a `token`/`access_token` parameter is refused.
 */
export const socketToken = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<string, Unauthorized> => {
  const query = request.url.indexOf("?")
  if (query !== -1) {
    const params = new URLSearchParams(request.url.slice(query + 1))
    if (params.has("token") || params.has("access_token")) {
      return Effect.fail(
        new Unauthorized({
          code: "token_in_query",
          message: "a token in the query string is refused (it ends up in logs); send Authorization: Bearer " +
            "<token>, or from a browser the subprotocols \"swarmgate.v1\" and \"bearer.<token>\""
        })
      )
    }
  }
  if (request.headers.authorization === undefined) {
    const offered = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim())
    const carried = offered.find((p) => p.startsWith(BEARER_PROTOCOL))
    if (carried !== undefined) {
      if (!offered.includes(WS_PROTOCOL)) {
        return Effect.fail(
          new Unauthorized({
            code: "malformed_credential",
            message: `a token as a subprotocol goes with the subprotocol "${WS_PROTOCOL}": offer both`
          })
        )
      }
      const token = carried.slice(BEARER_PROTOCOL.length)
      return token === ""
        ? Effect.fail(new Unauthorized({ code: "malformed_credential", message: "the subprotocol bearer.<token> is empty" }))
        : Effect.succeed(token)
    }
  }
  return bearerToken(request.headers.authorization)
}

/** Every credential middleware, for `ApiGroupsLive`. */
export const AuthLive = Layer.mergeAll(
  ApiAccess.layer,
  WorkerAuth.layer,
  DataAuth.layer,
  SessionAuth.layer,
  AnySessionAuth.layer,
  SessionTokenHeader.layer
)
