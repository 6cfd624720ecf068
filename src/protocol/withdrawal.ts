/**
 * Why a pending operator request ends without a reply: the closed set a `cancel` frame
 * carries, declared once. Code branches on it with `catchTag("RequestWithdrawn")` and a
 * switch over `reason`, never by comparing strings.
 */
import { Schema } from "effect"
import type { RunId, StepId } from "./ids.js"

export const WithdrawalReason = Schema.Literal("run_cancelled", "seat_taken_over", "deadline", "interrupted", "superseded")
export type WithdrawalReason = typeof WithdrawalReason.Type

/** Which pending requests to withdraw, as plain data: a run's, or only those of some of its steps. */
export interface Withdrawal {
  readonly run_id: RunId
  /** Only requests about these steps (`task_id`); every request of the run when absent. */
  readonly step_ids?: ReadonlyArray<StepId>
}

/** Whether a pending request (its run and step) falls under a withdrawal. */
export const withdraws = (w: Withdrawal, runId: string | undefined, stepId: string): boolean =>
  runId === w.run_id && (w.step_ids === undefined || (w.step_ids as ReadonlyArray<string>).includes(stepId))
