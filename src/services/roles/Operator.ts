import { Context, type Effect } from "effect"
import type { OperatorCallError, WorkerFailed } from "../OperatorErrors.js"
import type { HookContext } from "./SpawnHook.js"

export interface SpawnContext extends HookContext {
  readonly capabilityToken: string
  readonly workerHandle?: string
  readonly directive: string
}

/** What a `spawn` ends with when it does not fail. */
export interface WorkerResult {
  readonly value: unknown
  readonly ok: boolean
  readonly stats?: Readonly<Record<string, unknown>>
}

/**
 * Execution role of an operator session: `spawn` → `spawn_ack` | `spawn_halt`.
 * `spawn_halt` becomes `{ ok: true, value: { halted: true, reason, value } }`.
 */
export class Operator extends Context.Tag("swarmgate/Operator")<Operator, {
  readonly sid: string
  readonly execute: (ctx: SpawnContext) => Effect.Effect<WorkerResult, WorkerFailed | OperatorCallError>
}>() {}
