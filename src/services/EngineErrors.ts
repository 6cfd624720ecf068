/**
 * Errors of the engine services (runs, tasks, blueprints, worker verbs). The HTTP layer maps
 * each tag to its status; the intended status is noted on each class.
 */
import { Data } from "effect"
import type { BlueprintProblem } from "./flow/validate.js"

/** 404 */
export class RunNotFound extends Data.TaggedError("RunNotFound")<{ readonly runId: string; readonly message: string }> {}

/** 404 */
export class TaskNotFound extends Data.TaggedError("TaskNotFound")<{ readonly taskId: string; readonly message: string }> {}

/** 404 */
export class BlueprintNotFound extends Data.TaggedError("BlueprintNotFound")<{
  readonly id: string
  readonly version?: number
  readonly message: string
}> {}

/** 404: an `operator_sid` or acquiring sid that no live session has (the registry's own error). */
export { UnknownSession } from "./Sessions.js"

/** 404: `acquire` named a seat the blueprint does not declare (or it declares none). */
export class SeatNotFound extends Data.TaggedError("SeatNotFound")<{
  readonly runId: string
  readonly slot: string
  readonly message: string
}> {}

/** 409: cancel/acquire of a run that has ended. */
export class RunAlreadyFinished extends Data.TaggedError("RunAlreadyFinished")<{
  readonly runId: string
  readonly status: string
  readonly message: string
}> {}

/** 409: resume of a run that is not `interrupted`. */
export class NotInterrupted extends Data.TaggedError("NotInterrupted")<{
  readonly runId: string
  readonly status: string
  readonly message: string
}> {}

/** 422 (400 if the HTTP layer prefers it for pure shape problems); `problems` go to `error.details`. */
export class InvalidBlueprint extends Data.TaggedError("InvalidBlueprint")<{
  readonly problems: ReadonlyArray<BlueprintProblem>
  readonly message: string
}> {}

/** 410: the step has finished or its run has ended; nothing was changed. */
export class StepGone extends Data.TaggedError("StepGone")<{ readonly stepId: string; readonly message: string }> {}

/** 422: an ok:true result outside the agent's `verdicts`. */
export class VerdictRefused extends Data.TaggedError("VerdictRefused")<{
  readonly stepId: string
  readonly allowed: ReadonlyArray<string>
  readonly message: string
}> {}

/** 401: malformed, unknown, or wrongly signed worker credential. */
export class BadCredential extends Data.TaggedError("BadCredential")<{ readonly message: string }> {}

/** 401: a well-formed credential past its expiry. */
export class CredentialExpired extends Data.TaggedError("CredentialExpired")<{ readonly message: string }> {}

/** 403: a valid credential used outside its step (or run). */
export class WrongStep extends Data.TaggedError("WrongStep")<{ readonly message: string }> {}

/** 404: `GET /v1/data/:ref` found nothing. */
export class OutputNotFound extends Data.TaggedError("OutputNotFound")<{ readonly ref: string; readonly message: string }> {}

/** 400: a worker verb's input is unusable (e.g. an empty part name). */
export class BadWorkerInput extends Data.TaggedError("BadWorkerInput")<{ readonly message: string }> {}

/** 502-ish: the operator could not answer a worker's `ask` (torn down, withdrawn, wrong reply). */
export class AskFailed extends Data.TaggedError("AskFailed")<{ readonly message: string }> {}

export type CredentialError = BadCredential | CredentialExpired

/** The session seated for a step's seat no longer exists (torn down or expired). */
export class SeatHolderGone extends Data.TaggedError("SeatHolderGone")<{ readonly sid: string; readonly message: string }> {}

/** 409: the step's submission is closed: a result was already submitted (or staged after one). */
export class AlreadySubmitted extends Data.TaggedError("AlreadySubmitted")<{
  readonly stepId: string
  readonly message: string
}> {}

/** 409: the credential was minted before a seat take-over; the step now belongs to the new holder. */
export class Superseded extends Data.TaggedError("Superseded")<{ readonly stepId: string; readonly message: string }> {}

/** 400: `acquire` without `slot` on a run with several seats. */
export class SlotRequired extends Data.TaggedError("SlotRequired")<{
  readonly runId: string
  readonly seats: ReadonlyArray<string>
  readonly message: string
}> {}

/** 409: `wait: true` for a run that needs an operator while none is seated (nothing was created). */
export class NeedsOperator extends Data.TaggedError("NeedsOperator")<{
  readonly seats: ReadonlyArray<string>
  readonly message: string
}> {}

/** 504: `wait: true` ran out of `wait_ms`; the run goes on. */
export class WaitTimeout extends Data.TaggedError("WaitTimeout")<{
  readonly runId: string
  readonly waitMs: number
  readonly message: string
}> {}
