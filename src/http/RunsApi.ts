/** Runs (docs/http.md, Tasks and runs) and the view schemas the tasks routes share. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { ParseResult, Schema } from "effect"
import { RunId, TaskId } from "../protocol/ids.js"
import { RunStatus, runStatuses, SeatRecord } from "../protocol/records.js"
import { RunSummary, RunView } from "../protocol/views.js"
import { ApiAccess, AuthHeaders, SessionTokenHeader } from "./auth.js"
import { ApiErrors } from "./errors.js"

const exact = <S extends Schema.Schema.All>(s: S) => Schema.optionalWith(s, { exact: true })

/** JSON bodies: every problem at once, unknown fields refused, a missing key is missing. */
export const strictBody = { onExcessProperty: "error", exact: true, errors: "all" } as const

// the views are declared once, from the stored records
export { RunStatus, runStatuses, SeatRecord, StepStatus, StepView } from "../protocol/records.js"
export { RunSummary, RunView } from "../protocol/views.js"

export const Launched = Schema.Struct({
  task_id: TaskId,
  run_id: RunId,
  status: Schema.Literal("running")
})

/** `?status=`: one run status; empty means any. */
export const StatusParam = Schema.transformOrFail(Schema.String, Schema.UndefinedOr(RunStatus), {
  strict: true,
  decode: (raw, _, ast) => {
    const s = raw.trim()
    if (s === "") return ParseResult.succeed(undefined)
    return (runStatuses as ReadonlyArray<string>).includes(s)
      ? ParseResult.succeed(s as (typeof runStatuses)[number])
      : ParseResult.fail(
        new ParseResult.Type(
          ast,
          raw,
          `unknown run status ${JSON.stringify(raw)}: use one of ${runStatuses.join(", ")}`
        )
      )
  },
  encode: (s) => ParseResult.succeed(s ?? "")
})

export const LIMIT_DEFAULT = 100
export const LIMIT_MAX = 1000

/** `?limit=`: 1..LIMIT_MAX; empty means the default. */
export const LimitParam = Schema.transformOrFail(Schema.String, Schema.UndefinedOr(Schema.Int), {
  strict: true,
  decode: (raw, _, ast) => {
    if (raw.trim() === "") return ParseResult.succeed(undefined)
    const n = Number(raw)
    return /^\s*\d+\s*$/.test(raw) && n >= 1 && n <= LIMIT_MAX
      ? ParseResult.succeed(n)
      : ParseResult.fail(
        new ParseResult.Type(ast, raw, `must be a whole number from 1 to ${LIMIT_MAX}, got ${JSON.stringify(raw)}`)
      )
  },
  encode: (n) => ParseResult.succeed(n === undefined ? "" : String(n))
})

export const RunList = Schema.Struct({ runs: Schema.Array(RunSummary) })

export const RunAccepted = Schema.Struct({ run_id: Schema.String, status: RunStatus })

export const AcquireBody = Schema.Struct({
  sid: Schema.String,
  slot: exact(Schema.String)
}).annotations({
  parseOptions: strictBody,
  message: () => "the body must be a JSON object such as {\"sid\": \"S-...\", \"slot\": \"main\"}"
})

export const AcquireResult = Schema.Struct({
  slot: Schema.String,
  generation: Schema.Int,
  previous: exact(SeatRecord)
})

const IdPath = Schema.Struct({ id: Schema.String })

export class RunsApi extends HttpApiGroup.make("runs")
  .add(
    HttpApiEndpoint.get("list", "/v1/runs")
      .annotateContext(OpenApi.annotations({
        summary: "List runs, newest first",
        description: "`status` filters by run status; `limit` is 1 to 1000, default 100."
      }))
      .setUrlParams(Schema.Struct({ status: exact(StatusParam), limit: exact(LimitParam) }))
      .addSuccess(RunList)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/runs/:id")
      .annotateContext(OpenApi.annotations({ summary: "One run with its steps and seats" }))
      .setPath(IdPath)
      .addSuccess(RunView)
      .addError(ApiErrors.NotFound)
  )
  .add(
    HttpApiEndpoint.get("events", "/v1/runs/:id/events")
      .annotateContext(OpenApi.annotations({
        summary: "Follow a run as server-sent events",
        description: "Replays the run's past events, then follows live ones; the stream ends after `run_finished`. Each event has `id: <seq>`; `Last-Event-ID` resumes after that event."
      }))
      .setPath(IdPath)
      .setHeaders(Schema.Struct({ "last-event-id": exact(Schema.String) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(ApiErrors.NotFound)
  )
  .add(
    HttpApiEndpoint.post("cancel", "/v1/runs/:id/cancel")
      .annotateContext(OpenApi.annotations({
        summary: "Cancel a running run",
        description: "Interrupts its steps, withdraws their pending requests (`cancel` frames) and kills subprocess workers; 409 if it already ended."
      }))
      .setPath(IdPath)
      .addSuccess(RunAccepted, { status: 202 })
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Conflict)
  )
  .add(
    HttpApiEndpoint.post("resume", "/v1/runs/:id/resume")
      .annotateContext(OpenApi.annotations({
        summary: "Resume an interrupted run",
        description: "Only for `interrupted` runs (the server stopped while they ran). Steps that already passed are not dispatched again."
      }))
      .setPath(IdPath)
      .addSuccess(RunAccepted, { status: 202 })
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Conflict)
  )
  .add(
    HttpApiEndpoint.post("acquire", "/v1/runs/:id/acquire")
      .annotateContext(OpenApi.annotations({
        summary: "Take over a seat of a run",
        description: "Bearer is the token of the body's `sid`. The generation counts up; requests of that seat still pending are withdrawn from the previous holder and sent to the new one. `slot` may be left out when the run has one seat."
      }))
      .setPath(IdPath)
      .setHeaders(AuthHeaders)
      .setPayload(AcquireBody)
      .addSuccess(AcquireResult)
      // slot_required: several seats and no slot
      .addError(ApiErrors.BadRequest)
      .addError(ApiErrors.Unauthorized)
      .addError(ApiErrors.Forbidden)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Conflict)
      .middleware(SessionTokenHeader)
  )
  .addError(ApiErrors.InternalError)
  .middleware(ApiAccess)
{}
