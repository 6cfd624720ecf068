/**
 * Engine errors (services/EngineErrors.ts) as API errors: one place that fixes each tag's
 * status and code, and adds to the engine's message what the caller can do about it.
 */
import type {
  AlreadySubmitted,
  AskFailed,
  BadCredential,
  BadWorkerInput,
  BlueprintNotFound,
  CredentialExpired,
  InvalidBlueprint,
  NeedsOperator,
  NotInterrupted,
  OutputNotFound,
  RunAlreadyFinished,
  RunNotFound,
  SeatHolderGone,
  SeatNotFound,
  SlotRequired,
  StepGone,
  Superseded,
  TaskNotFound,
  UnknownSession,
  VerdictRefused,
  WaitTimeout,
  WrongStep
} from "../services/EngineErrors.js"
import {
  BadRequest,
  Conflict,
  Forbidden,
  GatewayTimeout,
  Gone,
  NotFound,
  Unauthorized,
  Unprocessable
} from "./errors.js"

export type EngineError =
  | RunNotFound
  | TaskNotFound
  | BlueprintNotFound
  | UnknownSession
  | SeatNotFound
  | RunAlreadyFinished
  | NotInterrupted
  | InvalidBlueprint
  | StepGone
  | VerdictRefused
  | BadCredential
  | CredentialExpired
  | WrongStep
  | OutputNotFound
  | BadWorkerInput
  | AskFailed
  | SeatHolderGone
  | AlreadySubmitted
  | Superseded
  | SlotRequired
  | NeedsOperator
  | WaitTimeout

/** The API error each engine error becomes, by tag. */
export type ApiErrorOf<E extends EngineError> = E extends RunNotFound | TaskNotFound | BlueprintNotFound ? NotFound
  : E extends UnknownSession | SeatNotFound | OutputNotFound ? NotFound
  : E extends RunAlreadyFinished | NotInterrupted | AskFailed | SeatHolderGone ? Conflict
  : E extends AlreadySubmitted | Superseded | NeedsOperator ? Conflict
  : E extends SlotRequired ? BadRequest
  : E extends WaitTimeout ? GatewayTimeout
  : E extends InvalidBlueprint | VerdictRefused ? Unprocessable
  : E extends StepGone ? Gone
  : E extends BadCredential | CredentialExpired ? Unauthorized
  : E extends WrongStep ? Forbidden
  : E extends BadWorkerInput ? BadRequest
  : never

const summarise = (problems: ReadonlyArray<{ readonly path: string; readonly message: string }>): string => {
  const first = problems.slice(0, 3).map((p) => `${p.path}: ${p.message}`).join("; ")
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : ""
  return `${first}${more}`
}

const toApi = (
  e: EngineError
): NotFound | Conflict | Unprocessable | Gone | Unauthorized | Forbidden | BadRequest | GatewayTimeout => {
  switch (e._tag) {
    case "RunNotFound":
      return new NotFound({ code: "unknown_run", message: `no run ${e.runId}; list runs with GET /v1/runs` })
    case "TaskNotFound":
      return new NotFound({ code: "unknown_task", message: `no task ${e.taskId}; list tasks with GET /v1/tasks` })
    case "BlueprintNotFound":
      return new NotFound({
        code: "unknown_blueprint",
        message: e.version === undefined
          ? `no blueprint ${e.id}; store it with PUT /v1/blueprints/${e.id} or list them with GET /v1/blueprints`
          : `blueprint ${e.id} has no version ${e.version}; GET /v1/blueprints lists the latest version of each`
      })
    case "UnknownSession":
      return new NotFound({
        code: "unknown_session",
        message: `no live operator session ${e.sid}; log in with POST /v1/operators and use the sid it returns`
      })
    case "SeatNotFound":
      return new NotFound({ code: "unknown_seat", message: e.message })
    case "RunAlreadyFinished":
      return new Conflict({
        code: "run_finished",
        message: `run ${e.runId} has already finished (${e.status}) and takes no more changes; ` +
          `start a new run of its task with POST /v1/tasks/:task_id/runs`
      })
    case "NotInterrupted":
      return new Conflict({
        code: "not_interrupted",
        message: `run ${e.runId} is ${e.status}; only an interrupted run (one that was running when the server ` +
          `stopped) can be resumed`
      })
    case "InvalidBlueprint":
      return new Unprocessable({
        code: "invalid_blueprint",
        message: `the blueprint is invalid (${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}: ` +
          `${summarise(e.problems)}); fix every problem listed in error.details and send it again`,
        details: e.problems.map((p) => ({ path: p.path, message: p.message }))
      })
    case "StepGone":
      return new Gone({
        code: "step_gone",
        message: `${e.message}; nothing was changed, and this credential takes no more input`
      })
    case "VerdictRefused":
      return new Unprocessable({
        code: "verdict_refused",
        message: e.message,
        details: [{ path: "$", message: `must be one of ${e.allowed.map((v) => JSON.stringify(v)).join(", ")}` }]
      })
    case "BadCredential":
      return new Unauthorized({
        code: "bad_credential",
        message: `${e.message}; use the worker_handle (or capability_token) of the step's spawn request`
      })
    case "CredentialExpired":
      return new Unauthorized({
        code: "credential_expired",
        message: `${e.message}; a worker credential lives as long as its step and the worker token TTL, ` +
          `so the step has to be handed out again for a new one`
      })
    case "WrongStep":
      return new Forbidden({
        code: "wrong_step",
        message: `${e.message}; a worker credential is valid only for its own step (and run)`
      })
    case "OutputNotFound":
      return new NotFound({
        code: "unknown_output",
        message: `no output ${e.ref}; use an out_id returned by POST /v1/data/emit, or the name of an output of ` +
          `this run`
      })
    case "BadWorkerInput":
      return new BadRequest({ code: "invalid_request", message: `invalid request: ${e.message}` })
    case "AskFailed":
      return new Conflict({
        code: "ask_failed",
        message: `the operator could not answer: ${e.message}; decide without the answer, or submit with ` +
          `verdict=blocked`
      })
    case "AlreadySubmitted":
      return new Conflict({
        code: "already_submitted",
        message: `${e.message}; the first submit (or result) closes a step's submission, nothing was changed`
      })
    case "Superseded":
      return new Conflict({
        code: "superseded",
        message: `${e.message}; the seat was taken over and the step was handed out again with a new ` +
          `worker_handle, so this credential takes no more input`
      })
    case "SlotRequired":
      return new BadRequest({ code: "slot_required", message: e.message, details: { seats: e.seats } })
    case "NeedsOperator":
      return new Conflict({
        code: "needs_operator",
        message: `${e.message}; pass operator_sid (with that session's token) to seat an operator, or launch ` +
          `without wait and acquire a seat with POST /v1/runs/:id/acquire`,
        details: { seats: e.seats }
      })
    case "WaitTimeout":
      return new GatewayTimeout({
        code: "wait_timeout",
        message: `${e.message}; the run goes on: follow it with GET /v1/runs/${e.runId} or its events`,
        details: { run_id: e.runId }
      })
    case "SeatHolderGone":
      return new Conflict({
        code: "seat_holder_gone",
        message: `${e.message}; seat a live session with POST /v1/runs/:id/acquire`
      })
  }
}

/** For `Effect.mapError`: every engine error a route can meet, as its API error. */
export const engineError = <E extends EngineError>(e: E): ApiErrorOf<E> => toApi(e) as ApiErrorOf<E>
