/**
 * An operator connection (docs/operators.md, from the operator's side): log in (or reuse
 * a sid + token), connect, reconnect with exponential backoff and jitter keeping the session,
 * hand each request out once (dedupe by `req_id`; a redelivered request that was already
 * answered gets the stored reply again, since the server never received it), drop withdrawn
 * requests, and end on teardown (close 1000) or when the scope closes.
 */
import type { HttpClient } from "@effect/platform"
import {
  Deferred,
  Duration,
  Effect,
  Option,
  Queue,
  Ref,
  Schedule,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import type { ApiError } from "../http/errors.js"
import type { HookAfterFrame, RequestFrame } from "../protocol/frames.js"
import { call, makeApiClient, normalizeServer } from "./api.js"
import { ConnectionEnded, ServerUnreachable, type UnexpectedAnswer } from "./errors.js"
import { SeenRequests } from "./seen.js"
import { type OpenSocket, openSocket } from "./socket.js"

/** A request handed to the operator, once. */
export interface Incoming {
  readonly frame: RequestFrame | HookAfterFrame
  /** Completes with the reason of a `cancel` frame for this request. */
  readonly withdrawn: Effect.Effect<string>
  readonly isWithdrawn: Effect.Effect<boolean>
}

export type ConnectionStatus = "connecting" | "connected" | "disconnected" | "ended"

export interface SpawnAckOptions {
  readonly value?: unknown
  readonly ok?: boolean
  readonly error?: string
  readonly stats?: Readonly<Record<string, unknown>>
}

export interface OperatorConnection {
  readonly sid: string
  readonly token: string
  readonly server: string
  /** Every request once, oldest first; ends on teardown, fails when the session is lost. Single consumer. */
  readonly requests: Stream.Stream<Incoming, ConnectionEnded>
  readonly status: SubscriptionRef.SubscriptionRef<ConnectionStatus>
  /** How many sockets were opened so far (1 after the first connect). */
  readonly connects: Effect.Effect<number>
  readonly answer: (reqId: string, value: unknown) => Effect.Effect<void>
  readonly hookAck: (reqId: string, ok: boolean, reason?: string) => Effect.Effect<void>
  readonly spawnAck: (reqId: string, options?: SpawnAckOptions) => Effect.Effect<void>
  readonly spawnHalt: (reqId: string, options?: { readonly value?: unknown; readonly reason?: string }) => Effect.Effect<void>
  /** Server `error` frames (a refused reply); for display. */
  readonly serverErrors: Stream.Stream<{ readonly code: string; readonly message: string; readonly req_id?: string }>
}

export interface ConnectOptions {
  readonly server: string
  readonly desc?: string
  /** Reuse an existing session instead of logging in. */
  readonly session?: { readonly sid: string; readonly token: string }
  /** Delete the session when the scope closes (default: only when this connection logged in). */
  readonly leaveOnClose?: boolean
  readonly backoff?: { readonly base?: Duration.DurationInput; readonly max?: Duration.DurationInput }
  /** No frame and no ping for this long: the link is dead, reconnect (the server pings every 30 s). */
  readonly silentAfter?: Duration.DurationInput
  readonly dedupeCapacity?: number
}

type Item = { readonly _tag: "Request"; readonly incoming: Incoming } | {
  readonly _tag: "End"
  readonly error?: ConnectionEnded
}

type ReplyFrame = { readonly type: string; readonly req_id: string } & Record<string, unknown>

const isRequestType = (t: unknown): t is RequestFrame["type"] | "hook_after" =>
  t === "ask" || t === "hook_before" || t === "spawn" || t === "hook_after"

/** The backoff between connection attempts: exponential from `base`, capped at `max`, with jitter. */
export const reconnectSchedule = (base: Duration.DurationInput, max: Duration.DurationInput) =>
  Schedule.exponential(base, 2).pipe(Schedule.union(Schedule.spaced(max)), Schedule.jittered)

export const connectOperator = (
  options: ConnectOptions
): Effect.Effect<
  OperatorConnection,
  ApiError | ServerUnreachable | UnexpectedAnswer | ConnectionEnded,
  Scope.Scope | HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const server = normalizeServer(options.server)
    const api = yield* makeApiClient(server)
    const { sid, token } = options.session ?? (yield* call(
      server,
      api.operators.login({ payload: options.desc === undefined ? {} : { desc: options.desc } })
    ))
    const leaveOnClose = options.leaveOnClose ?? options.session === undefined
    if (leaveOnClose) {
      yield* Effect.addFinalizer(() =>
        api.operators.logout({ path: { sid }, headers: { authorization: `Bearer ${token}` } }).pipe(
          Effect.timeout("5 seconds"),
          Effect.ignore
        )
      )
    }

    const status = yield* SubscriptionRef.make<ConnectionStatus>("connecting")
    const items = yield* Effect.acquireRelease(Queue.unbounded<Item>(), Queue.shutdown)
    const errors = yield* Effect.acquireRelease(
      Queue.sliding<{ code: string; message: string; req_id?: string }>(100),
      Queue.shutdown
    )
    const seen = new SeenRequests<Deferred.Deferred<string>, ReplyFrame>(options.dedupeCapacity ?? 10_000)
    const current = yield* Ref.make<Option.Option<OpenSocket>>(Option.none())
    const connects = yield* Ref.make(0)
    const silentAfter = Duration.decode(options.silentAfter ?? "90 seconds")

    const sendNow = (frame: ReplyFrame) =>
      Ref.get(current).pipe(Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(false),
        onSome: (socket) => socket.send(JSON.stringify(frame))
      })))

    // A reply is remembered before it is sent: if the socket dies first, the server still
    // owes it and redelivers the request, and the stored reply goes out again then.
    const reply = (frame: ReplyFrame) =>
      Effect.gen(function*() {
        const entry = seen.get(frame.req_id)
        if (entry !== undefined) {
          if (yield* Deferred.isDone(entry.withdrawn)) return
          entry.reply = frame
        }
        yield* sendNow(frame)
      })

    const onFrame = (text: string) =>
      Effect.gen(function*() {
        let frame: any
        try {
          frame = JSON.parse(text)
        } catch {
          return
        }
        if (typeof frame !== "object" || frame === null) return
        if (isRequestType(frame.type) && typeof frame.req_id === "string") {
          const known = seen.get(frame.req_id)
          if (known !== undefined) {
            if (known.reply !== undefined) yield* sendNow(known.reply)
            return
          }
          const withdrawn = yield* Deferred.make<string>()
          seen.add(frame.req_id, withdrawn)
          const incoming: Incoming = {
            frame,
            withdrawn: Deferred.await(withdrawn),
            isWithdrawn: Deferred.isDone(withdrawn)
          }
          yield* Queue.offer(items, { _tag: "Request", incoming })
        } else if (frame.type === "cancel" && typeof frame.req_id === "string") {
          const reason = typeof frame.reason === "string" ? frame.reason : "withdrawn"
          const entry = seen.get(frame.req_id) ?? seen.add(frame.req_id, yield* Deferred.make<string>())
          yield* Deferred.succeed(entry.withdrawn, reason)
        } else if (frame.type === "error") {
          yield* Queue.offer(errors, {
            code: String(frame.code),
            message: String(frame.message),
            ...(typeof frame.req_id === "string" ? { req_id: frame.req_id } : {})
          })
        }
      })

    const wsUrl = `${server.replace(/^http/, "ws")}/v1/operators/${encodeURIComponent(sid)}/ws`

    type Outcome = { readonly _tag: "Retry" } | { readonly _tag: "End"; readonly error: ConnectionEnded }
    const retry: Outcome = { _tag: "Retry" }
    const end = (reason: ConnectionEnded["reason"], detail: string): Outcome => ({
      _tag: "End",
      error: new ConnectionEnded({ reason, detail })
    })

    /** One socket's life: open, read until it closes; says whether to try again. */
    const session = (onOpen: Effect.Effect<void>): Effect.Effect<Outcome> =>
      Effect.scoped(Effect.gen(function*() {
        const opened = yield* Effect.either(openSocket(wsUrl, token))
        if (opened._tag === "Left") {
          const failure = opened.left
          if (failure._tag === "Refused" && failure.status === 404) {
            return end("session_gone", `operator session ${sid} is unknown or expired: log in again`)
          }
          if (failure._tag === "Refused" && failure.status === 401) {
            return end("bad_token", `the token is not the token of operator session ${sid}`)
          }
          return retry
        }
        const socket = opened.right
        yield* Ref.set(current, Option.some(socket))
        yield* Ref.update(connects, (n) => n + 1)
        yield* SubscriptionRef.set(status, "connected")
        yield* onOpen
        return yield* Effect.gen(function*() {
          for (;;) {
            const event = yield* Queue.take(socket.events).pipe(Effect.timeout(silentAfter), Effect.option)
            if (Option.isNone(event)) {
              yield* socket.terminate
              return retry
            }
            const e = event.value
            if (e._tag === "Message") yield* onFrame(e.text)
            else if (e._tag === "Closed") {
              if (e.code === 1000) return end("torn_down", `operator session ${sid} was torn down`)
              if (e.code === 4000) {
                return end("replaced", `another connection took over operator session ${sid}`)
              }
              return retry
            }
          }
        }).pipe(Effect.ensuring(Ref.set(current, Option.none())))
      }))

    const base = options.backoff?.base ?? "200 millis"
    const max = options.backoff?.max ?? "10 seconds"
    const firstOpen = yield* Deferred.make<void, ConnectionEnded | ServerUnreachable>()

    const supervise = Effect.gen(function*() {
      const driver = yield* Schedule.driver(reconnectSchedule(base, max))
      for (;;) {
        const outcome = yield* session(Effect.zipRight(driver.reset, Deferred.succeed(firstOpen, undefined)))
        if (outcome._tag === "End") {
          yield* Deferred.fail(firstOpen, outcome.error)
          return outcome.error
        }
        // the very first socket could not be opened: report it instead of retrying unseen
        if (yield* Deferred.fail(firstOpen, new ServerUnreachable({ server }))) {
          return new ConnectionEnded({ reason: "session_gone", detail: `could not connect to ${server}` })
        }
        yield* SubscriptionRef.set(status, "disconnected")
        yield* driver.next(undefined).pipe(Effect.ignore)
        yield* SubscriptionRef.set(status, "connecting")
      }
    }).pipe(
      Effect.flatMap((error) =>
        Effect.zipRight(
          SubscriptionRef.set(status, "ended"),
          Queue.offer(items, error.reason === "torn_down" ? { _tag: "End" } : { _tag: "End", error })
        )
      )
    )
    yield* Effect.forkScoped(supervise)
    // the first attempt decides whether the session is usable at all; later drops are retried
    yield* Deferred.await(firstOpen)

    // a queue shut down with the scope reads as the end of the stream
    const take: Effect.Effect<Item> = Effect.flatMap(
      Queue.isShutdown(items),
      (down) => down ? Effect.succeed<Item>({ _tag: "End" }) : Queue.take(items)
    ).pipe(Effect.catchAllCause(() => Effect.succeed<Item>({ _tag: "End" })))

    const next: Effect.Effect<Incoming, Option.Option<ConnectionEnded>> = Effect.gen(function*() {
      for (;;) {
        const item = yield* take
        if (item._tag === "End") {
          yield* Queue.offer(items, item).pipe(Effect.catchAllCause(() => Effect.void)) // later pulls end too
          return yield* Effect.fail(item.error === undefined ? Option.none() : Option.some(item.error))
        }
        if (!(yield* item.incoming.isWithdrawn)) return item.incoming
      }
    })

    return {
      sid,
      token,
      server,
      requests: Stream.repeatEffectOption(next),
      status,
      connects: Ref.get(connects),
      answer: (reqId, value) => reply({ type: "answer", req_id: reqId, value }),
      hookAck: (reqId, ok, reason) =>
        reply({ type: "hook_ack", req_id: reqId, ok, ...(reason === undefined ? {} : { reason }) }),
      spawnAck: (reqId, o = {}) =>
        reply({
          type: "spawn_ack",
          req_id: reqId,
          value: o.value ?? null,
          ok: o.ok ?? true,
          ...(o.error === undefined ? {} : { error: o.error }),
          ...(o.stats === undefined ? {} : { stats: o.stats })
        }),
      spawnHalt: (reqId, o = {}) =>
        reply({
          type: "spawn_halt",
          req_id: reqId,
          value: o.value ?? null,
          ...(o.reason === undefined ? {} : { reason: o.reason })
        }),
      serverErrors: Stream.fromQueue(errors)
    }
  })
