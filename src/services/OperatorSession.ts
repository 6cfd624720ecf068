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
  Scope,
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
import { trackRequest } from "./Telemetry.js"
import { notifyOffered, notifyShut } from "./OutboundWatch.js"
import { makeDeferred } from "./sharedDeferred.js"

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

type Deadlines = Readonly<Record<RequestKind, number | undefined>>

const deadlineMs = (d: Duration.DurationInput | undefined) =>
  d === undefined ? undefined : Duration.toMillis(Duration.decode(d))

// Sessions share one options object; its decoded deadlines are shared with it.
const decoded = new WeakMap<OperatorSessionOptions, Deadlines>()
const deadlinesOf = (options: OperatorSessionOptions): Deadlines => {
  let d = decoded.get(options)
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

const noOptions: RequestOptions = {}
const tornDownMark = Symbol("torn_down")
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * One operator session. Its methods live on the prototype, so an idle session is a few
 * small objects: thousands of them are held at once (docs/performance.md, P3). The state is the
 * design card's: the pending map `Ref<HashMap<string, Deferred>>` and the outbound slot
 * `SynchronizedRef<Option<Queue>>`; the lifecycle state is a plain field, read inside the
 * map's `Ref.modify` so registration and teardown cannot interleave (one JS thread).
 */
class Session implements OperatorSessionShape {
  readonly pendingRef = Ref.unsafeMake(HashMap.empty<string, Entry>())
  readonly outbound = SynchronizedRef.unsafeMake(Option.none<Queue.Queue<ServerFrame>>())
  private current: SessionState = "disconnected"
  private seq = 0
  /** Made when first awaited; completed by teardown. */
  private tornDown: Deferred.Deferred<void> | undefined

  constructor(readonly sid: string, private readonly deadlines: Deadlines) {}

  get state(): Effect.Effect<SessionState> {
    return Effect.sync(() => this.current)
  }

  private tornDownError(reason: string) {
    return new SessionTornDown({ sid: this.sid, message: `operator session ${this.sid} was torn down (${reason})` })
  }

  // false when nothing went out: no socket, or its queue was shut by a swap (the request
  // stays in the map, so redelivery covers it).
  private offer(frame: ServerFrame): Effect.Effect<boolean> {
    return Effect.map(SynchronizedRef.get(this.outbound), (slot) => {
      if (Option.isNone(slot) || !Queue.unsafeOffer(slot.value, frame)) return false
      notifyOffered(slot.value)
      return true
    })
  }

  private cancel(reqId: string, reason: WithdrawalReason) {
    const frame: CancelFrame = { type: "cancel", req_id: reqId, reason }
    return this.offer(frame)
  }

  // Remove the entry only if it is still this one (a reused req_id may have replaced it).
  private takeIfCurrent(entry: Entry) {
    return Ref.modify(this.pendingRef, (map): readonly [boolean, HashMap.HashMap<string, Entry>] => {
      const current = HashMap.get(map, entry.info.reqId)
      return Option.isSome(current) && current.value === entry
        ? [true, HashMap.remove(map, entry.info.reqId)]
        : [false, map]
    })
  }

  // One Ref.modify: insert, and learn in the same step whether an entry was replaced or
  // the session is already torn down (then nothing is inserted).
  private register(frame: RequestFrame, runId: string | undefined, beforeRedelivery: RequestOptions["beforeRedelivery"]) {
    // the time is read as an effect, before the entry exists: a test can hold a request
    // there to prove nothing of it is visible before it is owed
    return Effect.flatMap(Clock.currentTimeMillis, (createdAt) => {
      const info: Mutable<PendingInfo> = {
        reqId: frame.req_id,
        kind: frame.type,
        taskId: frame.task_id,
        createdAt,
        frame
      }
      if (runId !== undefined) info.runId = runId
      const entry: Entry = { info, deferred: makeDeferred(), seq: this.seq++, beforeRedelivery }
      return Effect.flatMap(
        Ref.modify(this.pendingRef, (map): readonly [Option.Option<Entry> | typeof tornDownMark, HashMap.HashMap<string, Entry>] =>
          this.current === "torn_down"
            ? [tornDownMark, map]
            : [HashMap.get(map, info.reqId), HashMap.set(map, info.reqId, entry)]),
        (previous: Option.Option<Entry> | typeof tornDownMark) => {
          if (previous === tornDownMark) {
            Deferred.unsafeDone(entry.deferred, Effect.fail(this.tornDownError("before this request was sent")))
          } else if (Option.isSome(previous)) {
            // Re-issuing a req_id that is still owed: the newer call takes the entry over.
            Deferred.unsafeDone(
              previous.value.deferred,
              Effect.fail(
                new RequestWithdrawn({
                  reqId: info.reqId,
                  reason: "superseded",
                  message: `request ${info.reqId} was issued again; the earlier call no longer waits for it`
                })
              )
            )
          }
          return Effect.succeed(entry)
        }
      )
    })
  }

  private awaitEntry(entry: Entry): Effect.Effect<PendingReply, RequestError> {
    const reply = Deferred.await(entry.deferred)
    const ms = this.deadlines[entry.info.kind]
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
    const expire = Effect.flatMap(this.takeIfCurrent(entry), (taken) =>
      taken
        ? Effect.zipRight(this.cancel(reqId, "deadline"), Deferred.fail(entry.deferred, timedOut())).pipe(
          Effect.zipLeft(Effect.logInfo("request timed out").pipe(Effect.annotateLogs({ sid: this.sid, req_id: reqId, kind })))
        )
        : Effect.void)
    return reply.pipe(
      Effect.timeoutOption(Duration.millis(ms)),
      Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.zipRight(expire, reply)
      }))
    )
  }

  request(body: RequestBody, options: RequestOptions = noOptions): Effect.Effect<PendingReply, RequestError> {
    return Effect.flatMap(currentRequest, (parent) => {
      // one copy of the body; parent_req_id only when there is a parent (frames carry no null fields)
      const frame = { ...body, req_id: options.reqId ?? makeReqId(this.sid, body.type) } as Mutable<RequestFrame>
      if (Option.isSome(parent)) frame.parent_req_id = parent.value
      const runId = options.runId ?? (body.type === "spawn" ? body.run_id : undefined)
      return Effect.acquireUseRelease(
        this.register(frame, runId, options.beforeRedelivery),
        (entry) => Effect.zipRight(this.offer(frame), this.awaitEntry(entry)).pipe(trackRequest(body.type)),
        (entry, exit) =>
          Exit.isSuccess(exit)
            // the reply took the entry out
            ? Effect.void
            : Effect.flatMap(this.takeIfCurrent(entry), (taken) =>
              // Still owed after the caller was interrupted: tell the operator to stop.
              // (and why: a step displaced by a seat take-over says so, see CancelReason.ts)
              taken && Exit.isInterrupted(exit)
                ? Effect.flatMap(cancelReason, (reason) => this.cancel(entry.info.reqId, reason))
                : Effect.void)
      )
    })
  }

  notify(body: Omit<HookAfterFrame, "req_id" | "parent_req_id">): Effect.Effect<void> {
    return Effect.flatMap(currentRequest, (parent) => {
      const frame = { ...body, req_id: makeReqId(this.sid, "hook_after") } as Mutable<HookAfterFrame>
      if (Option.isSome(parent)) frame.parent_req_id = parent.value
      return Effect.flatMap(this.offer(frame), (sent) =>
        sent ? Effect.void : Effect.logWarning("hook_after dropped: operator session is disconnected").pipe(
          Effect.annotateLogs({ sid: this.sid, task_id: body.task_id, agent: body.agent, attempt: body.attempt })
        ))
    })
  }

  private get snapshot() {
    return Effect.map(Ref.get(this.pendingRef), (map) => Array.from(HashMap.values(map)).sort(byAge))
  }

  private redeliveryFrame(entry: Entry): Effect.Effect<ServerFrame> {
    return entry.beforeRedelivery === undefined
      ? Effect.succeed({ ...entry.info.frame, redelivery: true })
      : Effect.map(entry.beforeRedelivery(entry.info.frame), (frame) => {
        entry.info = { ...entry.info, frame }
        return { ...frame, redelivery: true }
      })
  }

  // The new queue goes into the slot before the pending map is read: a request registered
  // after that read finds the new queue itself, one registered before is in the snapshot
  // (at worst it goes out twice; operators deduplicate by req_id).
  private get swapIn(): Effect.Effect<Queue.Queue<ServerFrame>, SessionTornDown> {
    return SynchronizedRef.modifyEffect(this.outbound, (previous) =>
      Effect.suspend(() => {
        if (this.current === "torn_down") return Effect.fail(this.tornDownError("a socket attached after teardown"))
        return Effect.flatMap(Queue.unbounded<ServerFrame>(), (queue) =>
          Effect.as(
            Option.isSome(previous) ? Queue.shutdown(previous.value) : Effect.void,
            [queue, Option.some(queue)] as const
          ).pipe(Effect.tap(() => {
            // the old socket learns it was replaced while the session is still connected
            if (Option.isSome(previous)) notifyShut(previous.value)
            this.current = "connected"
          })))
      }))
  }

  get replaceOutbound(): Effect.Effect<Queue.Dequeue<ServerFrame>, SessionTornDown> {
    return Effect.gen(this, function*() {
      const queue = yield* this.swapIn
      const frames = yield* Effect.flatMap(this.snapshot, Effect.forEach((entry) => this.redeliveryFrame(entry)))
      // a newer socket or a teardown may have shut this queue meanwhile; it redelivers itself
      yield* Queue.offerAll(queue, frames).pipe(Effect.catchAllCause(() => Effect.void))
      if (frames.length > 0) notifyOffered(queue)
      yield* Effect.logInfo("operator connected").pipe(Effect.annotateLogs({ sid: this.sid, redelivered: frames.length }))
      return queue as Queue.Dequeue<ServerFrame>
    }).pipe(Effect.uninterruptible)
  }

  clearOutboundIf(queue: Queue.Dequeue<ServerFrame>): Effect.Effect<void> {
    return SynchronizedRef.updateEffect(this.outbound, (slot) =>
      Option.isSome(slot) && slot.value === queue
        ? Queue.shutdown(slot.value).pipe(
          Effect.zipRight(Effect.sync(() => {
            if (this.current !== "torn_down") this.current = "disconnected"
            notifyShut(slot.value)
          })),
          Effect.zipRight(Effect.logInfo("operator disconnected").pipe(Effect.annotateLogs({ sid: this.sid }))),
          Effect.as(Option.none())
        )
        : Effect.succeed(slot)).pipe(Effect.uninterruptible)
  }

  resolve(reply: PendingReply): Effect.Effect<ResolveOutcome> {
    return Effect.map(
      Ref.modify(this.pendingRef, (map) => [HashMap.get(map, reply.req_id), HashMap.remove(map, reply.req_id)] as const),
      (entry): ResolveOutcome => {
        if (Option.isNone(entry)) return "unknown_request"
        Deferred.unsafeDone(entry.value.deferred, Effect.succeed(reply))
        return "resolved"
      }
    )
  }

  withdraw(target: Withdrawal, reason: WithdrawalReason): Effect.Effect<number> {
    return Effect.gen(this, function*() {
      const taken = yield* Ref.modify(this.pendingRef, (map) => {
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
        yield* this.cancel(reqId, reason)
        yield* Effect.logInfo("request withdrawn").pipe(Effect.annotateLogs({ sid: this.sid, req_id: reqId, reason }))
      }
      return taken.length
    }).pipe(Effect.uninterruptible)
  }

  teardown(reason: string): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      if (this.current === "torn_down") return
      this.current = "torn_down"
      const entries = yield* Ref.getAndSet(this.pendingRef, HashMap.empty())
      const error = this.tornDownError(reason)
      for (const entry of HashMap.values(entries)) Deferred.unsafeDone(entry.deferred, Effect.fail(error))
      yield* SynchronizedRef.updateEffect(this.outbound, (slot) =>
        Option.isSome(slot)
          ? Effect.as(Effect.zipRight(Queue.shutdown(slot.value), Effect.sync(() => notifyShut(slot.value))), Option.none())
          : Effect.succeed(slot))
      if (this.tornDown !== undefined) Deferred.unsafeDone(this.tornDown, Effect.void)
      yield* Effect.logInfo("operator session torn down").pipe(
        Effect.annotateLogs({ sid: this.sid, reason, failed: HashMap.size(entries) })
      )
    }).pipe(Effect.uninterruptible)
  }

  get pending(): Effect.Effect<ReadonlyArray<PendingInfo>> {
    return Effect.map(this.snapshot, (entries) => entries.map((e) => e.info))
  }

  sendError(frame: Omit<ErrorFrame, "type">): Effect.Effect<void> {
    return Effect.asVoid(this.offer({ type: "error", ...frame }))
  }

  get awaitTeardown(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.current === "torn_down") return Effect.void
      this.tornDown ??= makeDeferred<void>()
      return Deferred.await(this.tornDown)
    })
  }
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
