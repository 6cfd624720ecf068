/** Tasks (docs/http.md, Tasks and runs): launching runs and reading tasks. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ApiErrors } from "./errors.js"
import { TaskSummary, TaskView } from "../protocol/views.js"
import { ApiAccess, SessionTokenHeader } from "./auth.js"
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
  input: exact(Schema.Unknown.annotations({ description: "the run's input, merged over the blueprint's default_input" })),
  operator_sid: exact(Schema.String.annotations({
    description: "seat this session in every operator seat of the run; needs that session's token as Bearer"
  })),
  wait: exact(Schema.Boolean.annotations({ description: "true: answer only when the run ends (200 with the run)" })),
  wait_ms: exact(Schema.Int.pipe(Schema.between(1, 86_400_000, {
    message: () => "wait_ms must be a whole number of milliseconds between 1 and 86400000"
  })).annotations({ description: "with wait: how long to wait before 504 wait_timeout (the run goes on); default 300000" }))
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
      .annotateContext(OpenApi.annotations({
        summary: "Launch a task: a blueprint (stored id or inline) and an input",
        description: "202 with the task and run ids at once, or with `wait: true` 200 with the finished run. An invalid blueprint is 422 and an unknown `operator_sid` 404, before anything is created."
      }))
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
      // `operator_sid` seats a session: its token in Authorization
      .addError(ApiErrors.Unauthorized)
      .addError(ApiErrors.Forbidden)
      .middleware(SessionTokenHeader)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/tasks")
      .annotateContext(OpenApi.annotations({ summary: "List tasks with their last run" }))
      .addSuccess(TaskList)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/tasks/:id")
      .annotateContext(OpenApi.annotations({ summary: "One task with its runs, oldest first" }))
      .setPath(IdPath)
      .addSuccess(TaskView)
      .addError(ApiErrors.NotFound)
  )
  .add(
    HttpApiEndpoint.post("run", "/v1/tasks/:id/runs")
      .annotateContext(OpenApi.annotations({
        summary: "Run a task again",
        description: "Without `input` the new run reuses the task's original input."
      }))
      .setPath(IdPath)
      .setPayload(NewRunBody)
      .addSuccess(Launched, { status: 202 })
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unauthorized)
      .addError(ApiErrors.Forbidden)
      .middleware(SessionTokenHeader)
  )
  .addError(ApiErrors.InternalError)
  .middleware(ApiAccess)
{}
