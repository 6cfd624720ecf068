/**
 * Wire frames of the operator WebSocket (docs/operators.md, Frames). Field names are exact.
 * Server frames are plain objects serialised with JSON.stringify; optional fields are
 * omitted (never `null`). Operator frames are decoded by `decodeOperatorFrame` (decode.ts).
 */
import type { StepId } from "./ids.js"
import type { WithdrawalReason } from "./withdrawal.js"

/** The kinds of request that expect a reply, plus fire-and-forget `hook_after`. */
export type RequestKind = "ask" | "hook_before" | "spawn"

/** The short name used inside a `req_id`: `<sid>-<ask|hb|ha|spawn>-<uuid v4>`. */
export const reqIdKindTag = {
  ask: "ask",
  hook_before: "hb",
  hook_after: "ha",
  spawn: "spawn"
} as const

export interface AskFrame {
  readonly type: "ask"
  readonly req_id: string
  readonly parent_req_id?: string
  /** The step id: `task_id` on the wire. */
  readonly task_id: StepId
  readonly question: unknown
  readonly redelivery?: true
}

export interface HookBeforeFrame {
  readonly type: "hook_before"
  readonly req_id: string
  readonly parent_req_id?: string
  /** The step id: `task_id` on the wire. */
  readonly task_id: StepId
  readonly agent: string
  readonly attempt: number
  readonly redelivery?: true
}

export interface HookAfterFrame {
  readonly type: "hook_after"
  readonly req_id: string
  readonly parent_req_id?: string
  /** The step id: `task_id` on the wire. */
  readonly task_id: StepId
  readonly agent: string
  readonly attempt: number
  readonly result: unknown
}

export interface SpawnFrame {
  readonly type: "spawn"
  readonly req_id: string
  readonly parent_req_id?: string
  /** The step id: `task_id` on the wire. */
  readonly task_id: StepId
  readonly agent: string
  readonly attempt: number
  readonly capability_token: string
  readonly worker_handle?: string
  readonly run_id?: string
  readonly directive: string
  readonly redelivery?: true
}

export interface CancelFrame {
  readonly type: "cancel"
  readonly req_id: string
  readonly reason: WithdrawalReason
}

export type ErrorCode = "bad_frame" | "unknown_request"

export interface ErrorFrame {
  readonly type: "error"
  readonly code: ErrorCode
  readonly message: string
  readonly req_id?: string
}

/** A server frame that expects a reply and sits in the pending map. */
export type RequestFrame = AskFrame | HookBeforeFrame | SpawnFrame

export type ServerFrame = RequestFrame | HookAfterFrame | CancelFrame | ErrorFrame

// ---- operator → server (already decoded, defaults applied) ----

export interface AnswerReply {
  readonly type: "answer"
  readonly req_id: string
  readonly value: unknown
}

export interface HookAckReply {
  readonly type: "hook_ack"
  readonly req_id: string
  readonly ok: boolean
  readonly reason?: string
}

export interface SpawnAckReply {
  readonly type: "spawn_ack"
  readonly req_id: string
  readonly value: unknown
  readonly ok: boolean
  readonly error?: string
  /** Kept only when the operator sent an object; anything else is dropped. */
  readonly stats?: Readonly<Record<string, unknown>>
}

export interface SpawnHaltReply {
  readonly type: "spawn_halt"
  readonly req_id: string
  readonly value: unknown
  readonly reason?: string
}

/** What completes a pending request: any decoded operator reply. */
export type PendingReply = AnswerReply | HookAckReply | SpawnAckReply | SpawnHaltReply

export const encodeServerFrame = (frame: ServerFrame): string => JSON.stringify(frame)
