import { Context, Effect, Layer } from "effect"
import type { PendingReply } from "../../protocol/frames.js"
import { type OperatorCallError, UnexpectedReply, WorkerFailed } from "../OperatorErrors.js"
import { OperatorSession, type OperatorSessionShape, type RequestOptions } from "../OperatorSession.js"
import { requestOptions } from "./shared.js"
import type { HookContext } from "./SpawnHook.js"

export interface SpawnContext extends HookContext {
  readonly capabilityToken: string
  /**
   * A capability token with enough life left, asked for before the spawn is redelivered
   * after a reconnect (docs/http.md: a request that waited for a reconnect gets a fresh
   * token when the old one is near expiry).
   */
  readonly freshToken?: Effect.Effect<string>
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
type OperatorShape = Context.Tag.Service<typeof Operator>

/** The role over `session` (what `fromSession` builds from the session in context); methods shared by every session. */
class SpawnOperator implements OperatorShape {
  constructor(private readonly session: OperatorSessionShape) {}
  get sid() {
    return this.session.sid
  }
  execute(ctx: SpawnContext): Effect.Effect<WorkerResult, WorkerFailed | OperatorCallError> {
    return this.session.request(
      {
        type: "spawn",
        task_id: ctx.taskId,
        agent: ctx.agent,
        attempt: ctx.attempt,
        capability_token: ctx.capabilityToken,
        ...(ctx.workerHandle === undefined ? {} : { worker_handle: ctx.workerHandle }),
        ...(ctx.runId === undefined ? {} : { run_id: ctx.runId }),
        directive: ctx.directive
      },
      {
        ...requestOptions(ctx),
        ...withFreshToken(ctx.freshToken)
      }
    ).pipe(Effect.flatMap(workerResult))
  }
}

const workerResult = (reply: PendingReply): Effect.Effect<WorkerResult, WorkerFailed | UnexpectedReply> => {
  switch (reply.type) {
    case "spawn_ack":
      // An `error` fails the worker whatever `ok` says.
      if (reply.error !== undefined) return Effect.fail(new WorkerFailed({ message: reply.error }))
      return Effect.succeed({
        value: reply.value,
        ok: reply.ok,
        ...(reply.stats === undefined ? {} : { stats: reply.stats })
      })
    case "spawn_halt":
      return Effect.succeed({
        ok: true,
        value: { halted: true, reason: reply.reason ?? null, value: reply.value }
      })
    default:
      return Effect.fail(
        new UnexpectedReply({
          reqId: reply.req_id,
          expected: "spawn_ack or spawn_halt",
          got: reply.type,
          message: `expected spawn_ack or spawn_halt to spawn, got ${reply.type}`
        })
      )
  }
}

export const makeOperator = (session: OperatorSessionShape): OperatorShape => new SpawnOperator(session)

/** Redelivered spawn frames carry a token from `freshToken`, when the caller gave one. */
const withFreshToken = (freshToken: Effect.Effect<string> | undefined): Pick<RequestOptions, "beforeRedelivery"> =>
  freshToken === undefined ? {} : {
    beforeRedelivery: (frame) =>
      frame.type === "spawn"
        ? Effect.map(freshToken, (token) => ({ ...frame, capability_token: token }))
        : Effect.succeed(frame)
  }

export class Operator extends Context.Tag("swarmgate/Operator")<Operator, {
  readonly sid: string
  readonly execute: (ctx: SpawnContext) => Effect.Effect<WorkerResult, WorkerFailed | OperatorCallError>
}>() {
  /** `spawn` over the session in context, replies mapped as in docs/operators.md, Frames. */
  static readonly fromSession: Layer.Layer<Operator, never, OperatorSession> = Layer.effect(
    Operator,
    Effect.map(OperatorSession, makeOperator)
  )
}
