/**
 * The operator sessions this adapter joined. It holds each session's token and its
 * connection (the client library's: reconnect with backoff, dedupe by req_id, withdrawal);
 * the agent only sees the sid and the requests. A request is handed out once: `pending_wait`
 * pops it from the session's inbox, `ack` answers it exactly once with a reply that fits it.
 */
import type { HttpClient } from "@effect/platform"
import { Chunk, Clock, Deferred, Duration, Effect, Exit, HashMap, Option, Ref, Scope, Stream, SubscriptionRef } from "effect"
import { call, makeApiClient, normalizeServer } from "../client/api.js"
import type { ConnectionEnded } from "../client/errors.js"
import { connectOperator, type Incoming, type OperatorConnection } from "../client/OperatorConnection.js"
import { SeenRequests } from "../client/seen.js"
import { fromCall, ToolError, toolError } from "./errors.js"
import type { AckKind, Input } from "./inputs.js"

interface Held {
  readonly conn: OperatorConnection
  readonly scope: Scope.CloseableScope
  /** Requests received and not yet handed out, oldest first. */
  readonly inbox: SubscriptionRef.SubscriptionRef<Chunk.Chunk<Incoming>>
  /** Requests handed out, by req_id, with the kind of reply sent (bounded, oldest forgotten). */
  readonly handed: SeenRequests<Incoming, AckKind>
  /** Completes when the session's request stream ends: undefined for a teardown. */
  readonly ended: Deferred.Deferred<ConnectionEnded | undefined>
}

export interface OperatorsOptions {
  readonly server: string
  /** How long operator_join waits for the socket before deleting the minted session again. */
  readonly joinTimeout: Duration.DurationInput
  /** How long the link may be down before pending_wait reports the server unreachable. */
  readonly outageGrace?: Duration.DurationInput
}

/** The reply kinds that fit each request type. */
const fitting: Record<string, ReadonlyArray<AckKind>> = {
  ask: ["answer"],
  hook_before: ["hook_ack"],
  spawn: ["spawn_ack", "spawn_halt"],
  hook_after: []
}
/** The optional fields each reply kind takes. */
const fieldsOf: Record<AckKind, ReadonlyArray<string>> = {
  answer: ["value"],
  hook_ack: ["ok", "reason"],
  spawn_ack: ["value", "ok", "error"],
  spawn_halt: ["value", "reason"]
}

const endedMessage = (sid: string, end: ConnectionEnded | undefined) =>
  `operator session ${sid} has ended (${end === undefined ? "it was torn down" : end.message}); ` +
  "call operator_join for a new session, and operator_leave to forget this one"

export const makeOperators = (options: OperatorsOptions) =>
  Effect.gen(function*() {
    const server = normalizeServer(options.server)
    const api = yield* makeApiClient(server)
    const held = yield* Ref.make(HashMap.empty<string, Held>())
    const grace = Duration.decode(options.outageGrace ?? "2 seconds")

    // the adapter's end (stdin closed, a signal) leaves every session it joined
    yield* Effect.addFinalizer(() =>
      Ref.get(held).pipe(
        Effect.flatMap((all) => Effect.forEach(HashMap.values(all), (h) => Scope.close(h.scope, Exit.void), { concurrency: "unbounded" }))
      )
    )

    const logout = (sid: string, token: string) =>
      api.operators.logout({ path: { sid }, headers: { authorization: `Bearer ${token}` } })

    const get = (sid: string) =>
      Effect.flatMap(Ref.get(held), (all) =>
        Option.match(HashMap.get(all, sid), {
          onNone: () => {
            const known = [...HashMap.keys(all)]
            return Effect.fail(toolError(
              "unknown_sid",
              `unknown sid ${JSON.stringify(sid)}: ` +
                (known.length === 0 ? "no session joined yet, call operator_join first" : `use one of ${known.join(", ")} (from operator_join)`)
            ))
          },
          onSome: Effect.succeed
        }))

    /** A session that is still alive, else the tool error that says it ended. */
    const live = (sid: string) =>
      Effect.gen(function*() {
        const h = yield* get(sid)
        const end = yield* Deferred.poll(h.ended)
        if (Option.isSome(end)) return yield* Effect.fail(toolError("session_ended", endedMessage(sid, yield* end.value)))
        return h
      })

    const join = (desc: string | undefined): Effect.Effect<{ sid: string }, ToolError, HttpClient.HttpClient> =>
      Effect.gen(function*() {
        const minted = yield* call(server, api.operators.login({ payload: desc === undefined ? {} : { desc } })).pipe(
          Effect.mapError(fromCall)
        )
        const scope = yield* Scope.make()
        const rollback = (why: string) =>
          Scope.close(scope, Exit.void).pipe(
            Effect.zipRight(logout(minted.sid, minted.token).pipe(Effect.timeout("5 seconds"), Effect.ignore)),
            Effect.zipRight(Effect.fail(toolError(
              "join_failed",
              `logged in to ${server} but could not open the operator socket (${why}); the session was deleted again. ` +
                "Check that the server is up and reachable (swarmgate serve), then call operator_join again"
            )))
          )
        const conn = yield* connectOperator({ server, session: minted, leaveOnClose: true }).pipe(
          Scope.extend(scope),
          Effect.timeoutFail({
            duration: options.joinTimeout,
            onTimeout: () => `no connection within ${Duration.format(Duration.decode(options.joinTimeout))}`
          }),
          Effect.catchAll((e) => rollback(typeof e === "string" ? e : e.message))
        )
        const inbox = yield* SubscriptionRef.make(Chunk.empty<Incoming>())
        const ended = yield* Deferred.make<ConnectionEnded | undefined>()
        yield* conn.requests.pipe(
          Stream.runForEach((incoming) => SubscriptionRef.update(inbox, Chunk.append(incoming))),
          Effect.either,
          Effect.flatMap((end) => Deferred.succeed(ended, end._tag === "Left" ? end.left : undefined)),
          Effect.forkIn(scope)
        )
        yield* Ref.update(held, HashMap.set(conn.sid, { conn, scope, inbox, handed: new SeenRequests(10_000), ended }))
        return { sid: conn.sid }
      })

    const leave = (sid: string) =>
      Effect.gen(function*() {
        const h = yield* get(sid)
        const out = yield* Effect.either(call(server, logout(sid, h.conn.token)))
        // a session the server no longer knows is gone already: that is what leaving wanted
        if (out._tag === "Left" && !(out.left._tag === "NotFound")) return yield* Effect.fail(fromCall(out.left))
        yield* Ref.update(held, HashMap.remove(sid))
        yield* Scope.close(h.scope, Exit.void)
        return { removed: true as const }
      })

    const waitStatus = (h: Held, pred: (s: string) => boolean) =>
      h.conn.status.changes.pipe(Stream.filter(pred), Stream.runHead, Effect.asVoid)

    /** Completes once the link has been down for `grace` without coming back. */
    const outage = (h: Held) =>
      Effect.gen(function*() {
        for (;;) {
          yield* waitStatus(h, (s) => s !== "connected")
          const back = yield* waitStatus(h, (s) => s === "connected").pipe(Effect.timeout(grace), Effect.option)
          if (Option.isNone(back)) return
        }
      })

    const pop = (h: Held) =>
      SubscriptionRef.modify(h.inbox, (items) =>
        Chunk.isEmpty(items) ? [Option.none<Incoming>(), items] : [Chunk.head(items), Chunk.drop(items, 1)])

    type Woke = "ready" | "timeout" | "ended" | "outage" | "aborted"

    const abortedBy = (signal: AbortSignal) =>
      Effect.async<void>((resume) => {
        if (signal.aborted) return resume(Effect.void)
        const onAbort = () => resume(Effect.void)
        signal.addEventListener("abort", onAbort, { once: true })
        return Effect.sync(() => signal.removeEventListener("abort", onAbort))
      })

    /**
     * The oldest request not handed out yet, or none after `timeoutMs`. `signal` is the
     * caller's cancellation: a request popped for a cancelled call goes back to the front.
     */
    const wait = (sid: string, timeoutMs: number, signal: AbortSignal) =>
      Effect.gen(function*() {
        const h = yield* live(sid)
        const deadline = (yield* Clock.currentTimeMillis) + timeoutMs
        for (;;) {
          const next = yield* pop(h)
          if (Option.isSome(next)) {
            const incoming = next.value
            if (yield* incoming.isWithdrawn) continue
            if (signal.aborted) {
              yield* SubscriptionRef.update(h.inbox, Chunk.prepend(incoming))
              return Option.none<Incoming>()
            }
            h.handed.add(incoming.frame.req_id, incoming)
            return Option.some(incoming)
          }
          const now = yield* Clock.currentTimeMillis
          const woke = yield* Effect.raceAll<Effect.Effect<Woke>>([
            h.inbox.changes.pipe(Stream.filter((c) => !Chunk.isEmpty(c)), Stream.runHead, Effect.as("ready" as const)),
            Effect.sleep(Math.max(0, deadline - now)).pipe(Effect.as("timeout" as const)),
            Deferred.await(h.ended).pipe(Effect.as("ended" as const)),
            outage(h).pipe(Effect.as("outage" as const)),
            abortedBy(signal).pipe(Effect.as("aborted" as const))
          ])
          if (woke === "ready") continue
          if (woke === "ended") return yield* live(sid).pipe(Effect.as(Option.none<Incoming>()))
          const down = woke === "timeout" && (yield* SubscriptionRef.get(h.conn.status)) !== "connected"
          if (woke === "outage" || down) {
            return yield* Effect.fail(toolError(
              "unreachable",
              `the swarmgate server at ${server} is unreachable: the connection of operator session ${sid} dropped and ` +
                "the adapter is reconnecting on its own, keeping the session. Requests already handed out can still be " +
                "acked (the reply goes out when the link is back); call pending_wait again in a while"
            ))
          }
          return Option.none<Incoming>()
        }
      })

    const ack = (input: Input<"ack">) =>
      Effect.gen(function*() {
        const h = yield* live(input.sid)
        const entry = h.handed.get(input.req_id)
        if (entry === undefined) {
          return yield* Effect.fail(toolError(
            "unknown_request",
            `req_id ${JSON.stringify(input.req_id)} was not handed out by pending_wait for session ${input.sid}: ` +
              "ack the req_id of a request pending_wait returned"
          ))
        }
        const frame = entry.withdrawn.frame
        const ok = fitting[frame.type] ?? []
        if (ok.length === 0) {
          return yield* Effect.fail(toolError("wrong_kind", `${input.req_id} is a ${frame.type}, which needs no reply: do not ack it`))
        }
        if (!ok.includes(input.kind)) {
          return yield* Effect.fail(toolError(
            "wrong_kind",
            `${input.req_id} is a ${frame.type}: reply with kind ${ok.join(" or ")}, not ${input.kind}`
          ))
        }
        const given = (["value", "ok", "reason", "error"] as const).filter((f) => input[f] !== undefined)
        const extra = given.filter((f) => !fieldsOf[input.kind].includes(f))
        if (extra.length > 0) {
          return yield* Effect.fail(toolError(
            "wrong_kind",
            `kind ${input.kind} takes ${fieldsOf[input.kind].join(", ")}; remove ${extra.join(", ")}`
          ))
        }
        if (input.kind === "answer" && !("value" in input)) {
          return yield* Effect.fail(toolError("wrong_kind", "kind answer needs a value: the answer to the question (any JSON)"))
        }
        if (input.kind === "hook_ack" && input.ok === undefined) {
          return yield* Effect.fail(toolError("wrong_kind", "kind hook_ack needs ok: true to let the spawn go ahead, false to reject it"))
        }
        if (yield* entry.withdrawn.isWithdrawn) {
          const reason = yield* entry.withdrawn.withdrawn
          return yield* Effect.fail(toolError(
            "withdrawn",
            `${input.req_id} was withdrawn by the server (${reason}): nothing to send; call pending_wait for the next request`
          ))
        }
        if (entry.reply !== undefined) {
          return yield* Effect.fail(toolError(
            "already_answered",
            `${input.req_id} was already answered with ${entry.reply}: the first reply counts; call pending_wait for the next request`
          ))
        }
        entry.reply = input.kind
        const conn = h.conn
        const reqId = input.req_id
        switch (input.kind) {
          case "answer":
            yield* conn.answer(reqId, input.value)
            break
          case "hook_ack":
            yield* conn.hookAck(reqId, input.ok!, input.reason)
            break
          case "spawn_ack":
            yield* conn.spawnAck(reqId, {
              ...(input.value === undefined ? {} : { value: input.value }),
              ...(input.ok === undefined ? {} : { ok: input.ok }),
              ...(input.error === undefined ? {} : { error: input.error })
            })
            break
          case "spawn_halt":
            yield* conn.spawnHalt(reqId, {
              ...(input.value === undefined ? {} : { value: input.value }),
              ...(input.reason === undefined ? {} : { reason: input.reason })
            })
            break
        }
        return { sent: true as const }
      })

    /** The token of a live session, for the routes that act as that session. */
    const token = (sid: string) => Effect.map(live(sid), (h) => h.conn.token)

    return { server, join, leave, wait, ack, token }
  })

export type Operators = Effect.Effect.Success<ReturnType<typeof makeOperators>>
