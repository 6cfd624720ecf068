/** Tasks (http-api.md, Tasks and runs): launching runs and reading tasks. */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { ApiErrors } from "./errors.js"
import { JsonBody } from "./limits.js"
import { TaskSummary, TaskView } from "../protocol/views.js"
import { Launched, RunView, strictBody } from "./RunsApi.js"

const exact = <S extends Schema.Schema.All>(s: S) => Schema.optionalWith(s, { exact: true })

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A stored blueprint's id, or an inline blueprint (validated by the engine: 422). */
export const BlueprintSpec = Schema.Unknown.pipe(
  Schema.filter((u) =>
    (typeof u === "string" && u.trim() !== "") || isObject(u) ||
    "must be the id of a stored blueprint (a non-empty string) or an inline blueprint (a JSON object)"
  )
)

export const LaunchBody = Schema.Struct({
  blueprint: BlueprintSpec,
  input: exact(Schema.Unknown),
  operator_sid: exact(Schema.String),
  wait: exact(Schema.Boolean),
  /** How long `wait: true` waits before 504 wait_timeout (the run goes on); default 300000. */
  wait_ms: exact(Schema.Int.pipe(Schema.between(1, 86_400_000, {
    message: () => "wait_ms must be a whole number of milliseconds between 1 and 86400000"
  })))
}).annotations({
  parseOptions: strictBody,
  message: () => "the body must be a JSON object such as {\"blueprint\": \"<id>\", \"input\": {...}}"
})

const newRunShape = () =>
  "the body must be a JSON object such as {\"input\": {...}, \"operator_sid\": \"S-...\"}, or empty"

/** `{input?, operator_sid?}`; an empty body (decoded as null) is a re-run with the defaults. */
export const NewRunBody = Schema.Union(
  Schema.Struct({
    input: exact(Schema.Unknown),
    operator_sid: exact(Schema.String)
  }).annotations({ parseOptions: strictBody, message: newRunShape }),
  Schema.Null.annotations({ message: newRunShape })
)

export { TaskSummary, TaskView }

export const TaskList = Schema.Struct({ tasks: Schema.Array(TaskSummary) })

const IdPath = Schema.Struct({ id: Schema.String })

export class TasksApi extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("launch", "/v1/tasks")
      .setPayload(LaunchBody)
      // `wait: true` answers 200 with the finished run; listed first so a finished run never
      // encodes as the 202 shape
      .addSuccess(RunView)
      .addSuccess(Launched, { status: 202 })
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unprocessable)
      // needs_operator
      .addError(ApiErrors.Conflict)
      // wait_timeout
      .addError(ApiErrors.GatewayTimeout)
  )
  .add(HttpApiEndpoint.get("list", "/v1/tasks").addSuccess(TaskList))
  .add(
    HttpApiEndpoint.get("get", "/v1/tasks/:id")
      .setPath(IdPath)
      .addSuccess(TaskView)
      .addError(ApiErrors.NotFound)
  )
  .add(
    HttpApiEndpoint.post("run", "/v1/tasks/:id/runs")
      .setPath(IdPath)
      .setPayload(NewRunBody)
      .addSuccess(Launched, { status: 202 })
      .addError(ApiErrors.NotFound)
  )
  .addError(ApiErrors.InternalError)
  .middleware(JsonBody)
{}
