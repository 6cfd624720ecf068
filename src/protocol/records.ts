/**
 * The stored records, each declared once. Repositories take their types from here
 * (`Schema.Schema.Type<typeof X>`), a SQL layer decodes its rows with them, and the HTTP
 * views (`views.ts`) are built from their fields. Optional fields are exact: absent, never
 * `undefined` or `null`.
 */
import { Schema } from "effect"
import { BlueprintSchema } from "./blueprint.js"
import { OutputId, ReqId, RunId, Sid, StepId, TaskId } from "./ids.js"

const exact = <S extends Schema.Schema.All>(s: S) => Schema.optionalWith(s, { exact: true })
const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

// ---- sessions ----

/** A stored operator session: what survives a restart. */
export const SessionRecord = Schema.Struct({
  sid: Sid,
  /** SHA-256 hex of the bearer token; the plaintext token is never stored. */
  tokenDigest: Schema.String,
  desc: exact(Schema.String),
  /** Clock millis. */
  joinedAt: Schema.Number,
  /** Clock millis. */
  lastAccess: Schema.Number
})
export type SessionRecord = typeof SessionRecord.Type

// ---- blueprints ----

/** One stored version of a blueprint (versions count from 1 per id). */
export const BlueprintRecord = Schema.Struct({
  id: Schema.String,
  version: Schema.Int,
  blueprint: BlueprintSchema,
  /** ISO 8601. */
  updated_at: Schema.String
})
export type BlueprintRecord = typeof BlueprintRecord.Type

export const BlueprintSummary = Schema.Struct({
  id: BlueprintRecord.fields.id,
  version: BlueprintRecord.fields.version,
  updated_at: BlueprintRecord.fields.updated_at
})
export type BlueprintSummary = typeof BlueprintSummary.Type

// ---- tasks ----

/** A work item: a snapshot of a blueprint, so later edits of the stored one do not change it. */
export const TaskRecord = Schema.Struct({
  task_id: TaskId,
  /** The stored blueprint's id, or the inline blueprint's own `id` (`"inline"` when it has none). */
  blueprint_id: Schema.String,
  /** Version of the stored blueprint; absent for an inline blueprint. */
  blueprint_version: exact(Schema.Int),
  blueprint: BlueprintSchema,
  /** ISO 8601. */
  created_at: Schema.String
})
export type TaskRecord = typeof TaskRecord.Type

// ---- runs ----

export const runStatuses = ["running", "done", "failed", "cancelled", "interrupted"] as const
export const RunStatus = Schema.Literal(...runStatuses)
export type RunStatus = typeof RunStatus.Type

/** An interrupted run has not ended: it can be resumed. */
export const isRunEnded = (status: RunStatus): boolean =>
  status === "done" || status === "failed" || status === "cancelled"

export const RunError = Schema.Struct({
  message: Schema.String,
  failed_step: exact(Schema.String),
  step_value: exact(Schema.Unknown)
})
export type RunError = typeof RunError.Type

/** One execution of a task. Its seats are not here: they belong to Seats (`SeatingRecord`). */
export const RunRecord = Schema.Struct({
  run_id: RunId,
  task_id: TaskId,
  status: RunStatus,
  /** ISO 8601. */
  created_at: Schema.String,
  finished_at: exact(Schema.String),
  input: Schema.Unknown,
  result: exact(Schema.Unknown),
  error: exact(RunError)
})
export type RunRecord = typeof RunRecord.Type

// ---- seats ----

/** Who sits in a seat. */
export const SeatRecord = Schema.Struct({
  sid: Sid,
  /** Counts every seating of this seat in this run, from 1. */
  generation: Schema.Int
})
export type SeatRecord = typeof SeatRecord.Type

/** Every declared seat of a run; `null` while empty. */
export const SeatMap = Schema.Record({ key: Schema.String, value: Schema.NullOr(SeatRecord) })
export type SeatMap = typeof SeatMap.Type

/** One declared seat of one run, as stored: keyed by (run_id, slot). */
export const SeatingRecord = Schema.Struct({
  run_id: RunId,
  slot: Schema.String,
  /** The holder; null while the seat is empty. */
  sid: Schema.NullOr(Sid),
  /** Seatings so far (0: never seated); kept when a resume empties the seat. */
  generation: Schema.Int
})
export type SeatingRecord = typeof SeatingRecord.Type

// ---- steps ----

export const StepStatus = Schema.Literal(
  "waiting_for_operator",
  "running",
  "passed",
  "blocked",
  "skipped",
  "failed",
  "cancelled"
)
export type StepStatus = typeof StepStatus.Type

export const isStepFinished = (status: StepStatus): boolean =>
  status !== "waiting_for_operator" && status !== "running"

export const Verdict = Schema.Literal("pass", "blocked", "skip")
export type Verdict = typeof Verdict.Type

/** What a worker sent for the step (the first submit closes the submission). */
export const Submission = Schema.Struct({
  value: Schema.Unknown,
  verdict: Verdict,
  /** ISO 8601. */
  at: Schema.String
})
export type Submission = typeof Submission.Type

/** `GET /v1/worker/prompt` body. */
export const PromptPayload = Schema.Struct({
  task_id: StepId,
  run_id: RunId,
  attempt: Schema.Int,
  agent: Schema.String,
  system: Schema.NullOr(Schema.String),
  prompt: Schema.Unknown,
  context: JsonObject
})
export type PromptPayload = typeof PromptPayload.Type

/** The fields of a step that `GET /v1/runs/:id` shows. */
const publicStepFields = {
  step_id: StepId,
  ref: Schema.String,
  attempt: Schema.Int,
  status: StepStatus,
  /** ISO 8601. */
  started_at: Schema.String,
  finished_at: exact(Schema.String),
  value: exact(Schema.Unknown),
  error: exact(Schema.String),
  stats: exact(JsonObject)
}

/**
 * One execution of one `step` node. Besides the public entry it keeps what the worker
 * endpoints and a resume need (prompt, submission, staged parts, request ids).
 */
export const StepRecord = Schema.Struct({
  ...publicStepFields,
  run_id: RunId,
  /** Where the step node sits in the blueprint (the evaluator's location). */
  location: Schema.String,
  input: Schema.Unknown,
  /** Seat of an operator step. */
  seat: exact(Schema.String),
  /** The agent's allowed `ok:true` values, checked at submit. */
  verdicts: exact(Schema.Array(Schema.String)),
  prompt: exact(PromptPayload),
  /** req_id of the spawn in flight; the parent of a worker's `ask`. */
  spawn_req_id: exact(ReqId),
  /** req_id of the `hook_before` (main_ai), re-issued as is on resume. */
  hook_before_req_id: exact(ReqId),
  /** req_id of the senior escalation `ask`, re-issued as is on resume. */
  escalation_req_id: exact(ReqId),
  /** Seat generation of the latest spawn (or take-over): credentials minted for an older one are `superseded`. */
  worker_generation: exact(Schema.Int),
  /** Which result the step's value came from, when both a submit and a spawn_ack value arrived. */
  value_source: exact(Schema.Literal("submit", "spawn_ack")),
  /** Set once the engine has read the submission: later worker input is refused (410). */
  sealed: exact(Schema.Boolean),
  submission: exact(Submission),
  /** Staged artifact parts by name. */
  parts: exact(JsonObject)
})
export type StepRecord = typeof StepRecord.Type

/** The step entry of `GET /v1/runs/:id`: the record without its engine-internal fields. */
export const StepView = Schema.Struct({
  ...publicStepFields,
  /** The step node's location in the blueprint (`$.flow.children[0].body`): which node this step ran. */
  location: Schema.String
})
export type StepView = typeof StepView.Type

export const stepView = (s: StepRecord): StepView => ({
  step_id: s.step_id,
  ref: s.ref,
  attempt: s.attempt,
  location: s.location,
  status: s.status,
  started_at: s.started_at,
  ...(s.finished_at !== undefined ? { finished_at: s.finished_at } : {}),
  ...(s.value !== undefined ? { value: s.value } : {}),
  ...(s.error !== undefined ? { error: s.error } : {}),
  ...(s.stats !== undefined ? { stats: s.stats } : {})
})

// ---- run events ----

export const RunEventType = Schema.Literal(
  "run_started",
  "step_started",
  "step_status",
  "request_sent",
  "request_answered",
  "step_finished",
  "run_finished",
  /** A server shutdown stopped the run; it ends a follower's stream (the run can be resumed). */
  "run_interrupted"
)
export type RunEventType = typeof RunEventType.Type

const runEventFields = {
  type: RunEventType,
  run_id: RunId,
  /** ISO 8601. */
  at: Schema.String,
  step_id: exact(StepId),
  ref: exact(Schema.String),
  attempt: exact(Schema.Int),
  req_id: exact(ReqId),
  /** Request kind: `ask`, `hook_before`, `hook_after`, `spawn`. */
  kind: exact(Schema.String),
  sid: exact(Sid),
  /** Run status (run_*), step status (step_*), or `ok`/`error` (request_answered). */
  status: exact(Schema.String),
  message: exact(Schema.String),
  /** `run_finished` of a failed run: the run's error. */
  error: exact(RunError)
}

/** An event of a run's log; `seq` counts from 1 per run, assigned by the writer. */
export const RunEvent = Schema.Struct({ seq: Schema.Int, ...runEventFields })
export type RunEvent = typeof RunEvent.Type

/** An event before the log gave it its `seq`. */
export const NewRunEvent = Schema.Struct(runEventFields)
export type NewRunEvent = typeof NewRunEvent.Type

// ---- outputs (data path) ----

export const OutputRecord = Schema.Struct({
  out_id: OutputId,
  run_id: RunId,
  step_id: StepId,
  name: Schema.String,
  content_type: Schema.String,
  body: Schema.Uint8ArrayFromSelf,
  bytes: Schema.Int,
  /** Hex SHA-256 of the body. */
  sha256: Schema.String,
  /** ISO 8601. */
  created_at: Schema.String
})
export type OutputRecord = typeof OutputRecord.Type

// ---- worker capabilities ----

export const CapabilityRecord = Schema.Struct({
  /** Hex SHA-256 of the handle or token; the plaintext is never stored. */
  digest: Schema.String,
  kind: Schema.Literal("handle", "token"),
  step_id: StepId,
  run_id: RunId,
  /** Clock millis after which the credential is refused. */
  expires_at: Schema.Number,
  /** Seat generation the credential was minted for; absent in records from before generations. */
  generation: exact(Schema.Int)
})
export type CapabilityRecord = typeof CapabilityRecord.Type
