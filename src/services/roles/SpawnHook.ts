import { Context, Effect, Layer } from "effect"
import type { PendingReply } from "../../protocol/frames.js"
import type { StepId } from "../../protocol/ids.js"
import { type OperatorCallError, SpawnRejected, UnexpectedReply } from "../OperatorErrors.js"
import { OperatorSession, type OperatorSessionShape } from "../OperatorSession.js"
import { requestOptions } from "./shared.js"

export interface HookContext {
  /** The step id (`ST-…`); sent as `task_id`. */
  readonly taskId: StepId
  readonly runId?: string
  readonly agent: string
  readonly attempt: number
  readonly reqId?: string
}

type SpawnHookShape = Context.Tag.Service<typeof SpawnHook>

/** The role over `session` (what `fromSession` builds from the session in context); methods shared by every session. */
class Hook implements SpawnHookShape {
  constructor(private readonly session: OperatorSessionShape) {}
  get sid() {
    return this.session.sid
  }
  before(ctx: HookContext): Effect.Effect<void, SpawnRejected | OperatorCallError> {
    return this.session.request(
      { type: "hook_before", task_id: ctx.taskId, agent: ctx.agent, attempt: ctx.attempt },
      requestOptions(ctx)
    ).pipe(Effect.flatMap(hookOutcome))
  }
  after(ctx: HookContext, result: unknown): Effect.Effect<void> {
    return this.session.notify({ type: "hook_after", task_id: ctx.taskId, agent: ctx.agent, attempt: ctx.attempt, result })
  }
}

const hookOutcome = (reply: PendingReply): Effect.Effect<void, SpawnRejected | UnexpectedReply> => {
  if (reply.type !== "hook_ack") {
    return Effect.fail(
      new UnexpectedReply({
        reqId: reply.req_id,
        expected: "hook_ack",
        got: reply.type,
        message: `expected hook_ack to hook_before, got ${reply.type}`
      })
    )
  }
  if (reply.ok) return Effect.void
  const reason = reply.reason ?? "spawn rejected by operator"
  return Effect.fail(new SpawnRejected({ reason, message: reason }))
}

export const makeSpawnHook = (session: OperatorSessionShape): SpawnHookShape => new Hook(session)

/** Observation role of an operator session: `hook_before` → `hook_ack`, fire-and-forget `hook_after`. */
export class SpawnHook extends Context.Tag("swarmgate/SpawnHook")<SpawnHook, {
  readonly sid: string
  readonly before: (ctx: HookContext) => Effect.Effect<void, SpawnRejected | OperatorCallError>
  /** Never fails: dropped (and logged) while the session is disconnected. */
  readonly after: (ctx: HookContext, result: unknown) => Effect.Effect<void>
}>() {
  /** `hook_ack ok:true` lets the spawn go ahead, `ok:false` rejects it; `after` is a notify. */
  static readonly fromSession: Layer.Layer<SpawnHook, never, OperatorSession> = Layer.effect(
    SpawnHook,
    Effect.map(OperatorSession, makeSpawnHook)
  )
}
