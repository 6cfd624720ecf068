/**
 * The operator session core (docs/operators.md, Sessions, sockets and reconnecting; Teardown; docs/ARCHITECTURE.md):
 * a pending map of requests owed a reply and a swappable outbound queue.
 */
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  HashMap,
  Layer,
  Option,
  Queue,
  Ref,
  type Scope,
  SynchronizedRef
} from "effect"
import type {
  CancelFrame,
  ErrorFrame,
  HookAfterFrame,
  PendingReply,
  RequestFrame,
  RequestKind,
  ServerFrame
} from "../protocol/frames.js"
import { makeReqId } from "../protocol/ids.js"
import { type Withdrawal, type WithdrawalReason, withdraws } from "../protocol/withdrawal.js"
import { cancelReason } from "./CancelReason.js"
import { currentRequest } from "./CurrentRequest.js"
import { type RequestError, RequestTimedOut, RequestWithdrawn, SessionTornDown } from "./OperatorErrors.js"

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

export class OperatorSession
  extends Context.Tag("swarmgate/OperatorSession")<OperatorSession, OperatorSessionShape>()
{}

export interface OperatorSessionOptions {
  readonly deadlines?: SessionDeadlines
}

interface Entry {
  /** Replaced (same entry) when `beforeRedelivery` rewrites the frame. */
  info: PendingInfo
  readonly beforeRedelivery: ((frame: RequestFrame) => Effect.Effect<RequestFrame>) | undefined
  readonly deferred: Deferred.Deferred<PendingReply, RequestError>
  /** Insertion order, the tie-break for equal `createdAt` on redelivery. */
  readonly seq: number
}

const byAge = (a: Entry, b: Entry): number => a.info.createdAt - b.info.createdAt || a.seq - b.seq

const deadlineNames = { ask: "ask_timeout", hook_before: "hook_timeout", spawn: "spawn_timeout" } as const

/**
 * One operator session. Closing the scope tears it down, so every caller still
 * waiting on it fails instead of hanging.
 */
export const make = (
  sid: string,
  options: OperatorSessionOptions = {}
): Effect.Effect<OperatorSessionShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const deadlineMs = (d: Duration.DurationInput | undefined) =>
      d === undefined ? undefined : Duration.toMillis(Duration.decode(d))
    const deadlines: Record<RequestKind, number | undefined> = {
      ask: deadlineMs(options.deadlines?.ask),
      hook_before: deadlineMs(options.deadlines?.hook),
      spawn: deadlineMs(options.deadlines?.spawn)
    }

    const pendingRef = yield* Ref.make(HashMap.empty<string, Entry>())
    const outbound = yield* SynchronizedRef.make(Option.none<Queue.Queue<ServerFrame>>())
    const stateRef = yield* Ref.make<SessionState>("disconnected")
    const tornDown = yield* Deferred.make<void>()
    const seqRef = yield* Ref.make(0)

    const tornDownError = (reason: string) =>
      new SessionTornDown({ sid, message: `operator session ${sid} was torn down (${reason})` })

    // false when nothing went out. A swap can shut the queue between the read and the
    // offer, and offering to a shut-down queue interrupts (pitfall 12): that is caught,
    // and a pending request lost that way is still in the map, so redelivery covers it.
    const offer = (frame: ServerFrame): Effect.Effect<boolean> =>
      Effect.flatMap(
        SynchronizedRef.get(outbound),
        Option.match({
          onNone: () => Effect.succeed(false),
          onSome: (queue) =>
            Effect.flatMap(Queue.isShutdown(queue), (down) =>
              down
                ? Effect.succeed(false)
                : Queue.offer(queue, frame).pipe(Effect.catchAllCause(() => Effect.succeed(false))))
        })
      )

    const cancel = (reqId: string, reason: WithdrawalReason) => {
      const frame: CancelFrame = { type: "cancel", req_id: reqId, reason }
      return offer(frame)
    }

    // Remove the entry only if it is still this one (a reused req_id may have replaced it).
    const takeIfCurrent = (entry: Entry) =>
      Ref.modify(pendingRef, (map): readonly [boolean, HashMap.HashMap<string, Entry>] => {
        const current = HashMap.get(map, entry.info.reqId)
        return Option.isSome(current) && current.value === entry
          ? [true, HashMap.remove(map, entry.info.reqId)]
          : [false, map]
      })

    const register = (
      frame: RequestFrame,
      runId: string | undefined,
      beforeRedelivery: RequestOptions["beforeRedelivery"]
    ) =>
      Effect.gen(function*() {
        const createdAt = yield* Clock.currentTimeMillis
        const deferred = yield* Deferred.make<PendingReply, RequestError>()
        const seq = yield* Ref.getAndUpdate(seqRef, (n) => n + 1)
        const info: PendingInfo = {
          reqId: frame.req_id,
          kind: frame.type,
          taskId: frame.task_id,
          createdAt,
          frame,
          ...(runId === undefined ? {} : { runId })
        }
        const entry: Entry = { info, deferred, seq, beforeRedelivery }
        const previous = yield* Ref.modify(
          pendingRef,
          (map) => [HashMap.get(map, info.reqId), HashMap.set(map, info.reqId, entry)] as const
        )
        // Re-issuing a req_id that is still owed: the newer call takes the entry over.
        if (Option.isSome(previous)) {
          yield* Deferred.fail(
            previous.value.deferred,
            new RequestWithdrawn({
              reqId: info.reqId,
              reason: "superseded",
              message: `request ${info.reqId} was issued again; the earlier call no longer waits for it`
            })
          )
        }
        // Checked after inserting: a teardown that drained the map before our insert has
        // already set torn_down, so nothing can be left behind un-failed.
        if ((yield* Ref.get(stateRef)) === "torn_down") {
          yield* takeIfCurrent(entry)
          yield* Deferred.fail(deferred, tornDownError("before this request was sent"))
        }
        return entry
      })

    const awaitEntry = (entry: Entry): Effect.Effect<PendingReply, RequestError> => {
      const reply = Deferred.await(entry.deferred)
      const ms = deadlines[entry.info.kind]
      if (ms === undefined) return reply
      const { kind, reqId } = entry.info
      const timedOut = () =>
        new RequestTimedOut({
          kind,
          reqId,
          deadlineMs: ms,
          message: `${kind} request ${reqId} got no reply within its deadline of ${ms} ms (${deadlineNames[kind]})`
        })
      // If the entry is already gone, a reply, withdrawal or teardown got there first and
      // its outcome stands.
      const expire = Effect.flatMap(takeIfCurrent(entry), (taken) =>
        taken
          ? Effect.zipRight(cancel(reqId, "deadline"), Deferred.fail(entry.deferred, timedOut()))
          : Effect.void)
      return reply.pipe(
        Effect.timeoutOption(Duration.millis(ms)),
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () => Effect.zipRight(expire, reply)
        }))
      )
    }

    const request = (body: RequestBody, requestOptions: RequestOptions = {}) =>
      Effect.flatMap(currentRequest, (parent) => {
        const reqId = requestOptions.reqId ?? makeReqId(sid, body.type)
        const frame = {
          ...body,
          req_id: reqId,
          ...(Option.isSome(parent) ? { parent_req_id: parent.value } : {})
        } satisfies RequestFrame
        const runId = requestOptions.runId ?? (body.type === "spawn" ? body.run_id : undefined)
        return Effect.acquireUseRelease(
          register(frame, runId, requestOptions.beforeRedelivery),
          (entry) => Effect.zipRight(offer(frame), awaitEntry(entry)),
          (entry, exit) =>
            Effect.flatMap(takeIfCurrent(entry), (taken) =>
              // Still owed after the caller was interrupted: tell the operator to stop (and why).
              taken && Exit.isInterrupted(exit)
                ? Effect.flatMap(cancelReason, (reason) => cancel(entry.info.reqId, reason))
                : Effect.void)
        )
      })

    const notify = (body: Omit<HookAfterFrame, "req_id" | "parent_req_id">) =>
      Effect.gen(function*() {
        const parent = yield* currentRequest
        const frame: HookAfterFrame = {
          ...body,
          req_id: makeReqId(sid, "hook_after"),
          ...(Option.isSome(parent) ? { parent_req_id: parent.value } : {})
        }
        const sent = yield* offer(frame)
        if (!sent) {
          yield* Effect.logWarning("hook_after dropped: operator session is disconnected").pipe(
            Effect.annotateLogs({ sid, task_id: body.task_id, agent: body.agent, attempt: body.attempt })
          )
        }
      })

    const snapshot = Effect.map(Ref.get(pendingRef), (map) => Array.from(HashMap.values(map)).sort(byAge))

    const redeliveryFrame = (entry: Entry): Effect.Effect<ServerFrame> =>
      entry.beforeRedelivery === undefined
        ? Effect.succeed({ ...entry.info.frame, redelivery: true })
        : Effect.map(entry.beforeRedelivery(entry.info.frame), (frame) => {
          entry.info = { ...entry.info, frame }
          return { ...frame, redelivery: true }
        })

    // The new queue goes into the slot before the pending map is read: a request registered
    // after that read finds the new queue itself, one registered before is in the snapshot
    // (at worst it goes out twice; operators deduplicate by req_id).
    const swapIn: Effect.Effect<Queue.Queue<ServerFrame>, SessionTornDown> = SynchronizedRef.modifyEffect(
      outbound,
      (previous) =>
        Effect.gen(function*() {
          if ((yield* Ref.get(stateRef)) === "torn_down") {
            return yield* Effect.fail(tornDownError("a socket attached after teardown"))
          }
          const queue = yield* Queue.unbounded<ServerFrame>()
          if (Option.isSome(previous)) yield* Queue.shutdown(previous.value)
          yield* Ref.set(stateRef, "connected")
          return [queue, Option.some(queue)] as const
        })
    )

    const replaceOutbound: Effect.Effect<Queue.Dequeue<ServerFrame>, SessionTornDown> = Effect.gen(function*() {
      const queue = yield* swapIn
      const frames = yield* Effect.flatMap(snapshot, Effect.forEach(redeliveryFrame))
      // a newer socket or a teardown may have shut this queue meanwhile; it redelivers itself
      yield* Queue.offerAll(queue, frames).pipe(Effect.catchAllCause(() => Effect.void))
      return queue as Queue.Dequeue<ServerFrame>
    }).pipe(Effect.uninterruptible)

    const clearOutboundIf = (queue: Queue.Dequeue<ServerFrame>) =>
      SynchronizedRef.updateEffect(outbound, (slot) =>
        Option.isSome(slot) && slot.value === queue
          ? Queue.shutdown(slot.value).pipe(
            Effect.zipRight(Ref.update(stateRef, (s) => (s === "torn_down" ? s : "disconnected"))),
            Effect.as(Option.none())
          )
          : Effect.succeed(slot)).pipe(Effect.uninterruptible)

    const resolve = (reply: PendingReply) =>
      Ref.modify(pendingRef, (map) => [HashMap.get(map, reply.req_id), HashMap.remove(map, reply.req_id)] as const)
        .pipe(Effect.flatMap(Option.match({
          onNone: () => Effect.succeed<ResolveOutcome>("unknown_request"),
          onSome: (entry) => Effect.as(Deferred.succeed(entry.deferred, reply), "resolved" as const)
        })))

    const withdraw = (target: Withdrawal, reason: WithdrawalReason) =>
      Effect.gen(function*() {
        const taken = yield* Ref.modify(pendingRef, (map) => {
          const drop = Array.from(HashMap.values(map)).filter((entry) =>
            withdraws(target, entry.info.runId, entry.info.taskId)
          )
          const keep = drop.reduce((rest, entry) => HashMap.remove(rest, entry.info.reqId), map)
          return [drop.sort(byAge), keep] as const
        })
        for (const entry of taken) {
          const reqId = entry.info.reqId
          yield* Deferred.fail(
            entry.deferred,
            new RequestWithdrawn({ reqId, reason, message: `request ${reqId} was withdrawn (${reason})` })
          )
          yield* cancel(reqId, reason)
        }
        return taken.length
      }).pipe(Effect.uninterruptible)

    const teardown = (reason: string) =>
      Effect.gen(function*() {
        if ((yield* Ref.getAndSet(stateRef, "torn_down")) === "torn_down") return
        const entries = yield* Ref.getAndSet(pendingRef, HashMap.empty())
        const error = tornDownError(reason)
        yield* Effect.forEach(HashMap.values(entries), (entry) => Deferred.fail(entry.deferred, error), {
          discard: true
        })
        yield* SynchronizedRef.updateEffect(outbound, (slot) =>
          Option.isSome(slot)
            ? Effect.as(Queue.shutdown(slot.value), Option.none())
            : Effect.succeed(slot))
        yield* Deferred.succeed(tornDown, undefined)
      }).pipe(Effect.uninterruptible)

    yield* Effect.addFinalizer(() => teardown("its scope was closed"))

    const session: OperatorSessionShape = {
      sid,
      state: Ref.get(stateRef),
      request,
      notify,
      replaceOutbound,
      clearOutboundIf,
      resolve,
      withdraw,
      teardown,
      pending: Effect.map(snapshot, (entries) => entries.map((e) => e.info)),
      sendError: (frame) => Effect.asVoid(offer({ type: "error", ...frame })),
      awaitTeardown: Deferred.await(tornDown)
    }
    return session
  })

/** An `OperatorSession` for one sid, torn down when the layer's scope closes. */
export const layer = (sid: string, options: OperatorSessionOptions = {}): Layer.Layer<OperatorSession> =>
  Layer.scoped(OperatorSession, make(sid, options))
