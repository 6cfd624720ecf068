/** Operator session routes (docs/http.md, Operator sessions). The socket route is raw: OperatorSocket.ts. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { AnySessionAuth, AuthHeaders, SessionAuth } from "./auth.js"
import { ApiErrors } from "./errors.js"

export const DESC_MAX = 200

const Desc = Schema.Trim.pipe(
  Schema.maxLength(DESC_MAX, { message: () => `must be at most ${DESC_MAX} characters (after trimming)` })
)

const bodyShape = () => "the body must be a JSON object such as {\"desc\": \"my laptop\"}, or empty"

/** `{desc?}`; an empty body (decoded as null) is a login without a description. */
export const LoginBody = Schema.Union(
  Schema.Struct({ desc: Schema.optionalWith(Desc, { exact: true }) }).annotations({ message: bodyShape }),
  Schema.Null.annotations({ message: bodyShape })
)

export const LoginResult = Schema.Struct({
  sid: Schema.String.annotations({ description: "the session id, `S-` and 32 hex digits" }),
  token: Schema.String.annotations({ description: "the session's bearer token (32 hex); shown only here, keep it" })
})

/** ISO-8601 UTC timestamps on the wire (docs/decisions-http.md). */
export const Timestamp = Schema.String

export const OperatorSummary = Schema.Struct({
  sid: Schema.String,
  desc: Schema.NullOr(Schema.String),
  connected: Schema.Boolean,
  joined_at: Timestamp,
  last_access: Timestamp,
  pending: Schema.Int
})

export const OperatorList = Schema.Struct({
  operators: Schema.Array(OperatorSummary),
  total: Schema.Int
})

export const PendingItem = Schema.Struct({
  req_id: Schema.String,
  type: Schema.Literal("ask", "hook_before", "spawn"),
  task_id: Schema.String,
  run_id: Schema.optionalWith(Schema.String, { exact: true }),
  age_ms: Schema.Int.annotations({ description: "milliseconds since the request was sent" })
})

export const OperatorInfo = Schema.Struct({
  sid: Schema.String,
  desc: Schema.NullOr(Schema.String),
  connected: Schema.Boolean,
  joined_at: Timestamp,
  last_access: Timestamp,
  pending: Schema.Array(PendingItem)
})

const SidPath = Schema.Struct({ sid: Schema.String })

export class OperatorsApi extends HttpApiGroup.make("operators")
  .add(
    HttpApiEndpoint.post("login", "/v1/operators")
      .annotateContext(OpenApi.annotations({
        summary: "Log in as an operator: a new session",
        description: "Answers the session id and its token. Connect the operator WebSocket at /v1/operators/{sid}/ws with that token. `desc` (optional, at most 200 characters) names the session in listings."
      }))
      .setPayload(LoginBody)
      .addSuccess(LoginResult)
      .addError(ApiErrors.BadRequest)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/operators")
      .annotateContext(OpenApi.annotations({
        summary: "List the live operator sessions",
        description: "Needs the token of any live session. Tokens are never listed."
      }))
      .setHeaders(AuthHeaders)
      .addSuccess(OperatorList)
      .addError(ApiErrors.Unauthorized)
      .middleware(AnySessionAuth)
  )
  .add(
    HttpApiEndpoint.get("info", "/v1/operators/:sid")
      .annotateContext(OpenApi.annotations({
        summary: "One session with the requests it still owes a reply to",
        description: "Needs this session's token. Reading it counts as activity for idle expiry."
      }))
      .setPath(SidPath)
      .setHeaders(AuthHeaders)
      .addSuccess(OperatorInfo)
      .addError(ApiErrors.Unauthorized)
      .addError(ApiErrors.NotFound)
      .middleware(SessionAuth)
  )
  .add(
    HttpApiEndpoint.del("logout", "/v1/operators/:sid")
      .annotateContext(OpenApi.annotations({
        summary: "Tear a session down",
        description: "Fails every request the session still owes, vacates its seats and closes its socket (1000). Needs this session's token; a second call is 404."
      }))
      .setPath(SidPath)
      .setHeaders(AuthHeaders)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ApiErrors.Unauthorized)
      .addError(ApiErrors.NotFound)
      .middleware(SessionAuth)
  )
  .addError(ApiErrors.InternalError)
{}
