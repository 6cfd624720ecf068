import { Data } from "effect"
import type { RequestKind } from "../protocol/frames.js"
import type { WithdrawalReason } from "../protocol/withdrawal.js"

/** The session was torn down (DELETE, idle expiry); every pending call fails with this at once. */
export class SessionTornDown extends Data.TaggedError("SessionTornDown")<{
  readonly sid: string
  readonly message: string
}> {}

/** A request's configured deadline passed (docs/operators.md, Sessions, sockets and reconnecting). */
export class RequestTimedOut extends Data.TaggedError("RequestTimedOut")<{
  readonly kind: RequestKind
  readonly reqId: string
  readonly deadlineMs: number
  readonly message: string
}> {}

/** The request was withdrawn (run cancelled, seat taken over) before a reply came. */
export class RequestWithdrawn extends Data.TaggedError("RequestWithdrawn")<{
  readonly reqId: string
  readonly reason: WithdrawalReason
  readonly message: string
}> {}

/** The operator replied with a frame type that does not answer this request kind (docs/operators.md, Frames). */
export class UnexpectedReply extends Data.TaggedError("UnexpectedReply")<{
  readonly reqId: string
  readonly expected: string
  readonly got: string
  readonly message: string
}> {}

/** `hook_ack ok:false`: the operator refused the spawn. */
export class SpawnRejected extends Data.TaggedError("SpawnRejected")<{
  readonly reason: string
  readonly message: string
}> {}

/** `spawn_ack` with `error`: the worker could not be started or failed. */
export class WorkerFailed extends Data.TaggedError("WorkerFailed")<{
  readonly message: string
}> {}

/** Anything that can end a request to an operator session without a usable reply. */
export type RequestError = SessionTornDown | RequestTimedOut | RequestWithdrawn

export type OperatorCallError = RequestError | UnexpectedReply
