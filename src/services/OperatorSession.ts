/**
 * The operator session (docs/operators.md, Sessions, sockets and reconnecting; Teardown; docs/ARCHITECTURE.md):
 * a pending map of requests owed a reply and a swappable outbound queue. This file is its
 * contract and constructor; the session itself is `session/Session.ts`.
 */
import { Context, type Duration, Effect, Layer, type Queue, Scope } from "effect"
import type {
  ErrorFrame,
  HookAfterFrame,
  PendingReply,
  RequestFrame,
  RequestKind,
  ServerFrame
} from "../protocol/frames.js"
import type { Withdrawal, WithdrawalReason } from "../protocol/withdrawal.js"
import type { RequestError, SessionTornDown } from "./OperatorErrors.js"
import { deadlinesOf } from "./session/pending.js"
import { Session } from "./session/Session.js"

export type SessionState = "connected" | "disconnected" | "torn_down"

/** A request frame before the session fills in `req_id` / `parent_req_id`. */
export type RequestBody = RequestFrame extends infer F
  ? F extends RequestFrame ? Omit<F, "req_id" | "parent_req_id" | "redelivery"> : never
  : never

/** Metadata of one pending entry (what `GET /v1/operators/:sid` lists). */
export interface PendingInfo {
  readonly reqId: string
  readonly kind: RequestKind
  readonly taskId: string
  readonly runId?: string
  /** Clock millis when the request was registered. */
  readonly createdAt: number
  readonly frame: RequestFrame
}

export interface RequestOptions {
  /** Run the request belongs to; withdrawal by run id uses it. */
  readonly runId?: string
  /** Reuse a req_id (resume after restart); minted when absent. */
  readonly reqId?: string
  /**
   * Rewrites the frame before it is redelivered after a reconnect, e.g. to re-mint a
   * credential that came near expiry while the operator was away. The rewrite is kept.
   */
  readonly beforeRedelivery?: (frame: RequestFrame) => Effect.Effect<RequestFrame>
}

export type ResolveOutcome = "resolved" | "unknown_request"

export interface SessionDeadlines {
  readonly ask?: Duration.DurationInput
  readonly hook?: Duration.DurationInput
  readonly spawn?: Duration.DurationInput
}

export interface OperatorSessionShape {
  readonly sid: string
  readonly state: Effect.Effect<SessionState>
  /** Register, offer (or park while disconnected), await the first reply; honours the kind's deadline. */
  readonly request: (body: RequestBody, options?: RequestOptions) => Effect.Effect<PendingReply, RequestError>
  /** Fire-and-forget `hook_after`; dropped and logged while disconnected. */
  readonly notify: (frame: Omit<HookAfterFrame, "req_id" | "parent_req_id">) => Effect.Effect<void>
  /** Swap a fresh queue into the outbound slot, set connected, redeliver every pending request oldest first. */
  readonly replaceOutbound: Effect.Effect<Queue.Dequeue<ServerFrame>, SessionTornDown>
  /** Clear the slot only if it still holds `queue` (rule 3.4). */
  readonly clearOutboundIf: (queue: Queue.Dequeue<ServerFrame>) => Effect.Effect<void>
  /** First reply wins; an id not owed is reported so the socket handler can send `error unknown_request`. */
  readonly resolve: (reply: PendingReply) => Effect.Effect<ResolveOutcome>
  /** Remove the pending requests `target` names, fail their calls with RequestWithdrawn, send `cancel` with `reason`. */
  readonly withdraw: (target: Withdrawal, reason: WithdrawalReason) => Effect.Effect<number>
  /** Terminal: fail every pending call at once with SessionTornDown; idempotent. */
  readonly teardown: (reason: string) => Effect.Effect<void>
  /** Pending requests, oldest first. */
  readonly pending: Effect.Effect<ReadonlyArray<PendingInfo>>
  /** Send an `error` frame to the attached socket, if any. */
  readonly sendError: (frame: Omit<ErrorFrame, "type">) => Effect.Effect<void>
  /** Completes when the session is torn down (the socket handler closes with 1000 then). */
  readonly awaitTeardown: Effect.Effect<void>
}

// Stryker disable StringLiteral: the key only has to differ from every other tag's, and no other key is ""
export class OperatorSession
  extends Context.Tag("swarmgate/OperatorSession")<OperatorSession, OperatorSessionShape>()
{}
// Stryker restore StringLiteral

export interface OperatorSessionOptions {
  readonly deadlines?: SessionDeadlines
}

/**
 * One operator session. Closing the scope tears it down, so every caller still
 * waiting on it fails instead of hanging.
 */
export const make = (
  sid: string,
  options: OperatorSessionOptions = {}
): Effect.Effect<OperatorSessionShape, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    const session = new Session(sid, deadlinesOf(options))
    // Scope.addFinalizer, not Effect.addFinalizer: the latter keeps the caller's fiber refs
    // (a login request's whole context, ~2 KiB) for as long as the session lives
    return Effect.as(Scope.addFinalizer(scope, session.teardown("its scope was closed")), session)
  })

/** An `OperatorSession` for one sid, torn down when the layer's scope closes. */
export const layer = (sid: string, options: OperatorSessionOptions = {}): Layer.Layer<OperatorSession> =>
  Layer.scoped(OperatorSession, make(sid, options))
