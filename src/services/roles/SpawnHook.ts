import { Context, type Effect } from "effect"
import type { OperatorCallError, SpawnRejected } from "../OperatorErrors.js"

export interface HookContext {
  /** The step id (`ST-…`); sent as `task_id`. */
  readonly taskId: string
  readonly runId?: string
  readonly agent: string
  readonly attempt: number
  readonly reqId?: string
}

/** Observation role of an operator session: `hook_before` → `hook_ack`, fire-and-forget `hook_after`. */
export class SpawnHook extends Context.Tag("swarmgate/SpawnHook")<SpawnHook, {
  readonly sid: string
  readonly before: (ctx: HookContext) => Effect.Effect<void, SpawnRejected | OperatorCallError>
  /** Never fails: dropped (and logged) while the session is disconnected. */
  readonly after: (ctx: HookContext, result: unknown) => Effect.Effect<void>
}>() {}
