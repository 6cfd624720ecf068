/**
 * Worker endpoints (docs/http.md): the sub-agent's side of a step. Auth is the step's
 * worker handle or capability token as a Bearer. `submit` and `artifact` take the raw
 * body (any content type, 16 MiB); `result` and `ask` are JSON.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { ParseResult, Schema } from "effect"
import { PromptPayload } from "../protocol/records.js"
import { AuthHeaders, WorkerAuth } from "./auth.js"
import { ApiErrors } from "./errors.js"
import { strictBody } from "./RunsApi.js"

const exact = <S extends Schema.Schema.All>(s: S) => Schema.optionalWith(s, { exact: true })

/** `GET /v1/worker/prompt`: the payload as the step record keeps it. */
export { PromptPayload }

export const verdicts = ["pass", "blocked", "skip"] as const
export type Verdict = (typeof verdicts)[number]

/** `?verdict=`: pass (default, also when empty), blocked or skip. */
export const VerdictParam = Schema.transformOrFail(Schema.String, Schema.Literal(...verdicts), {
  strict: true,
  decode: (raw, _, ast) => {
    const v = raw.trim()
    if (v === "") return ParseResult.succeed("pass" as const)
    return (verdicts as ReadonlyArray<string>).includes(v)
      ? ParseResult.succeed(v as Verdict)
      : ParseResult.fail(
        new ParseResult.Type(ast, raw, `unknown verdict ${JSON.stringify(raw)}: use one of ${verdicts.join(", ")}`)
      )
  },
  encode: ParseResult.succeed
})

/** `?ok=`: `false` means the same as `verdict=blocked` (workers written for the reference system send it). */
export const OkParam = Schema.transformOrFail(Schema.String, Schema.Boolean, {
  strict: true,
  decode: (raw, _, ast) => {
    const v = raw.trim().toLowerCase()
    return v === "true" || v === "1" || v === ""
      ? ParseResult.succeed(true)
      : v === "false" || v === "0"
      ? ParseResult.succeed(false)
      : ParseResult.fail(new ParseResult.Type(ast, raw, `ok must be true or false, got ${JSON.stringify(raw)}`))
  },
  encode: (b) => ParseResult.succeed(String(b))
})

/** The verdict of a raw submit: `ok=false` is `blocked` whatever `verdict` says; none is `pass`. */
export const submitVerdict = (params: { readonly verdict?: Verdict | undefined; readonly ok?: boolean | undefined }): Verdict =>
  params.ok === false ? "blocked" : params.verdict ?? "pass"

export const Submitted = Schema.Struct({ task_id: Schema.String, bytes: Schema.Int })

export const StagedPart = Schema.Struct({ task_id: Schema.String, name: Schema.String, bytes: Schema.Int })

export const ResultBody = Schema.Struct({
  value: Schema.Unknown,
  ok: Schema.Boolean
}).annotations({
  parseOptions: strictBody,
  message: () => "the body must be a JSON object such as {\"value\": ..., \"ok\": true}"
})

export const AskBody = Schema.Struct({ question: Schema.Unknown }).annotations({
  parseOptions: strictBody,
  message: () => "the body must be a JSON object such as {\"question\": \"...\"}"
})

export const AskAnswer = Schema.Struct({ answer: Schema.Unknown })

export class WorkerApi extends HttpApiGroup.make("worker")
  .add(
    HttpApiEndpoint.get("prompt", "/v1/worker/prompt")
      .annotateContext(OpenApi.annotations({
        summary: "Fetch the step's prompt (sub-agent)",
        description: "Bearer is the worker handle or capability token from the spawn. `task_id`, when given, must be the credential's step (403 otherwise)."
      }))
      .setHeaders(AuthHeaders)
      .setUrlParams(Schema.Struct({ task_id: exact(Schema.String) }))
      .addSuccess(PromptPayload)
      .addError(ApiErrors.Forbidden)
  )
  .add(
    HttpApiEndpoint.post("submit", "/v1/worker/submit")
      .annotateContext(OpenApi.annotations({
        summary: "Submit the step's result as a raw body (sub-agent)",
        description: "A body that parses as a JSON object or array (also inside one leading markdown code fence) becomes that JSON; anything else stays a string. `verdict`: pass (default), blocked (the step fails the flow) or skip. A second submit is 409; a finished step is 410."
      }))
      .setHeaders(AuthHeaders)
      .setUrlParams(Schema.Struct({
        verdict: exact(VerdictParam.annotations({ description: "pass (default), blocked or skip" })),
        ok: exact(OkParam.annotations({ description: "false means the same as verdict=blocked" }))
      }))
      .addSuccess(Submitted)
      .addError(ApiErrors.Unprocessable)
      .addError(ApiErrors.PayloadTooLarge)
  )
  .add(
    HttpApiEndpoint.post("result", "/v1/worker/result")
      .annotateContext(OpenApi.annotations({ summary: "Submit the step's result as a JSON value (sub-agent)" }))
      .setHeaders(AuthHeaders)
      .setPayload(ResultBody)
      .addSuccess(Submitted)
      .addError(ApiErrors.Unprocessable)
  )
  .add(
    HttpApiEndpoint.post("artifact", "/v1/worker/artifact")
      .annotateContext(OpenApi.annotations({
        summary: "Stage a named part of the result (sub-agent)",
        description: "The step's value becomes `{\"out\": <result>, \"parts\": {<name>: <part>}}`. Refused after the submit (409)."
      }))
      .setHeaders(AuthHeaders)
      .setUrlParams(Schema.Struct({ name: Schema.String }))
      .addSuccess(StagedPart)
      .addError(ApiErrors.PayloadTooLarge)
  )
  .add(
    HttpApiEndpoint.post("ask", "/v1/worker/ask")
      .annotateContext(OpenApi.annotations({
        summary: "Ask the operator a question mid-work (sub-agent)",
        description: "Sends an `ask` to the operator session of the step's seat and answers when it replies."
      }))
      .setHeaders(AuthHeaders)
      .setPayload(AskBody)
      .addSuccess(AskAnswer)
      .addError(ApiErrors.Conflict)
  )
  .addError(ApiErrors.BadRequest)
  .addError(ApiErrors.Unauthorized)
  .addError(ApiErrors.Gone)
  // already_submitted, superseded
  .addError(ApiErrors.Conflict)
  .addError(ApiErrors.InternalError)
  // every worker route: the step's credential, checked before the body is read
  .middleware(WorkerAuth)
{}
