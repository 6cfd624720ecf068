/**
 * What the API shows of the stored records, built from their declarations (records.ts):
 * a run view is the run record's fields, its seats (owned by Seats) and its steps.
 */
import { Schema } from "effect"
import { RunId } from "./ids.js"
import { RunRecord, RunStatus, SeatMap, StepView, TaskRecord } from "./records.js"

/** A run without its steps (lists, a task's runs). */
export const RunSummary = Schema.Struct({ ...RunRecord.fields, seats: SeatMap })
export type RunSummary = typeof RunSummary.Type

/** `GET /v1/runs/:id`. */
export const RunView = Schema.Struct({ ...RunSummary.fields, steps: Schema.Array(StepView) })
export type RunView = typeof RunView.Type

const { blueprint_id, created_at, task_id } = TaskRecord.fields
const taskFields = { task_id, blueprint_id, created_at }

/** An entry of `GET /v1/tasks`. */
export const TaskSummary = Schema.Struct({
  ...taskFields,
  last_run_id: Schema.NullOr(RunId),
  last_status: Schema.NullOr(RunStatus)
})
export type TaskSummary = typeof TaskSummary.Type

/** `GET /v1/tasks/:id`: the task with its runs, oldest first. */
export const TaskView = Schema.Struct({
  ...taskFields,
  blueprint_version: TaskRecord.fields.blueprint_version,
  /** The snapshot the task runs (stored or inline). */
  blueprint: TaskRecord.fields.blueprint,
  runs: Schema.Array(RunSummary)
})
export type TaskView = typeof TaskView.Type
