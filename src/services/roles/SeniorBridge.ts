import { Context, type Effect } from "effect"
import type { OperatorCallError } from "../OperatorErrors.js"

export interface AskInput {
  /** The step id (`ST-…`) the question is about; sent as `task_id`. */
  readonly taskId: string
  readonly runId?: string
  readonly question: unknown
  /** Reuse a known req_id (restart/resume); minted when absent. */
  readonly reqId?: string
}

/** Judgment role of an operator session: `ask` → `answer` (protocol.md §1). */
export class SeniorBridge extends Context.Tag("swarmgate/SeniorBridge")<SeniorBridge, {
  readonly sid: string
  readonly ask: (input: AskInput) => Effect.Effect<unknown, OperatorCallError>
}>() {}
