/**
 * The pending map's entries and the per-kind deadlines of an operator session
 * (`session/Session.ts`).
 */
import { type Deferred, Duration, type Effect } from "effect"
import type { PendingReply, RequestFrame, RequestKind } from "../../protocol/frames.js"
import type { RequestError } from "../OperatorErrors.js"
import type { OperatorSessionOptions, PendingInfo, RequestOptions } from "../OperatorSession.js"

export interface Entry {
  /** Replaced (same entry) when `beforeRedelivery` rewrites the frame. */
  info: PendingInfo
  readonly beforeRedelivery: ((frame: RequestFrame) => Effect.Effect<RequestFrame>) | undefined
  readonly deferred: Deferred.Deferred<PendingReply, RequestError>
  /** Insertion order, the tie-break for equal `createdAt` on redelivery. */
  readonly seq: number
}

export const byAge = (a: Entry, b: Entry): number => a.info.createdAt - b.info.createdAt || a.seq - b.seq

export const deadlineNames = { ask: "ask_timeout", hook_before: "hook_timeout", spawn: "spawn_timeout" } as const

export type Deadlines = Readonly<Record<RequestKind, number | undefined>>

const deadlineMs = (d: Duration.DurationInput | undefined) =>
  d === undefined ? undefined : Duration.toMillis(Duration.decode(d))

// Sessions share one options object; its decoded deadlines are shared with it.
const decoded = new WeakMap<OperatorSessionOptions, Deadlines>()
export const deadlinesOf = (options: OperatorSessionOptions): Deadlines => {
  let d = decoded.get(options)
  // Stryker disable next-line ConditionalExpression: `true` decodes the same deadlines again per session (memory only, same values)
  if (d === undefined) {
    d = {
      ask: deadlineMs(options.deadlines?.ask),
      hook_before: deadlineMs(options.deadlines?.hook),
      spawn: deadlineMs(options.deadlines?.spawn)
    }
    decoded.set(options, d)
  }
  return d
}

export const noOptions: RequestOptions = {}
export const tornDownMark = Symbol("torn_down")
export type Mutable<T> = { -readonly [K in keyof T]: T[K] }
