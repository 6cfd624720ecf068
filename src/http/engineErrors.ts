/**
 * Engine errors (services/EngineErrors.ts) as API errors: one place that fixes each tag's
 * status and code, and adds to the engine's message what the caller can do about it.
 */
import type {
  AskFailed,
  BadCredential,
  BadWorkerInput,
  BlueprintNotFound,
  CredentialExpired,
  InvalidBlueprint,
  NotInterrupted,
  OutputNotFound,
  RunAlreadyFinished,
  RunNotFound,
  SeatHolderGone,
  SeatNotFound,
  StepGone,
  TaskNotFound,
  UnknownSession,
  VerdictRefused,
  WrongStep
} from "../services/EngineErrors.js"
import { BadRequest, Conflict, Forbidden, Gone, NotFound, Unauthorized, Unprocessable } from "./errors.js"

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

/** The API error each engine error becomes, by tag. */
export type ApiErrorOf<E extends EngineError> = E extends RunNotFound | TaskNotFound | BlueprintNotFound ? NotFound
  : E extends UnknownSession | SeatNotFound | OutputNotFound ? NotFound
  : E extends RunAlreadyFinished | NotInterrupted | AskFailed | SeatHolderGone ? Conflict
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

const toApi = (e: EngineError): NotFound | Conflict | Unprocessable | Gone | Unauthorized | Forbidden | BadRequest => {
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
    case "SeatHolderGone":
      return new Conflict({
        code: "seat_holder_gone",
        message: `${e.message}; seat a live session with POST /v1/runs/:id/acquire`
      })
  }
}

/** For `Effect.mapError`: every engine error a route can meet, as its API error. */
export const engineError = <E extends EngineError>(e: E): ApiErrorOf<E> => toApi(e) as ApiErrorOf<E>
