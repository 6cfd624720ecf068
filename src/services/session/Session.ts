/**
 * One operator session: the design card's pending map and outbound slot, and every
 * operation on them (the contract is `OperatorSession.ts`).
 */
import {
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  HashMap,
  Option,
  Queue,
  Ref,
  SynchronizedRef
} from "effect"
import type { CancelFrame, ErrorFrame, HookAfterFrame, PendingReply, RequestFrame, ServerFrame } from "../../protocol/frames.js"
import { makeReqId } from "../../protocol/ids.js"
import { type Withdrawal, type WithdrawalReason, withdraws } from "../../protocol/withdrawal.js"
import { cancelReason } from "../CancelReason.js"
import { currentRequest } from "../CurrentRequest.js"
import { type RequestError, RequestTimedOut, RequestWithdrawn, SessionTornDown } from "../OperatorErrors.js"
import type {
  OperatorSessionShape,
  PendingInfo,
  RequestBody,
  RequestOptions,
  ResolveOutcome,
  SessionState
} from "../OperatorSession.js"
import { notifyOffered, notifyShut } from "../OutboundWatch.js"
import { makeDeferred } from "./sharedDeferred.js"
import { trackRequest } from "../Telemetry.js"
import { byAge, type Deadlines, deadlineNames, type Entry, type Mutable, noOptions, tornDownMark } from "./pending.js"

/**
 * One operator session. Its methods live on the prototype, so an idle session is a few
 * small objects: thousands of them are held at once (docs/performance.md, P3). The state is the
 * design card's: the pending map `Ref<HashMap<string, Deferred>>` and the outbound slot
 * `SynchronizedRef<Option<Queue>>`; the lifecycle state is a plain field, read inside the
 * map's `Ref.modify` so registration and teardown cannot interleave (one JS thread).
 */
export class Session implements OperatorSessionShape {
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
