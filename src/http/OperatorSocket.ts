/**
 * `GET /v1/operators/:sid/ws` (docs/operators.md). The bearer is checked
 * before the upgrade, so a bad credential is an ordinary 401/404 envelope. After the
 * upgrade one connection runs until the peer closes, a newer socket replaces it (4000),
 * the session is torn down (1000), the peer goes silent (cut), or the server stops (1001).
 *
 * Writes go straight to the `ws` socket and check its state first, so a write after close
 * is dropped rather than hanging (a write after close would otherwise hang); the handler returns only once the
 * TCP socket is gone, since the platform writes its HTTP response onto it afterwards.
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Chunk, Clock, Deferred, Duration, Effect, Either, Exit, Fiber, Option, Queue, type Scope } from "effect"
import type { Socket } from "node:net"
import { type RawData, WebSocket } from "ws"
import { ServerConfig, type ServerConfigShape } from "../layers/ServerConfig.js"
import { binaryFrameProblem, decodeOperatorFrame } from "../protocol/decode.js"
import { isHookAfterReqId } from "../protocol/ids.js"
import { encodeServerFrame, type ErrorFrame, type ServerFrame } from "../protocol/frames.js"
import { cut } from "../protocol/json.js"
import { type LiveSession, Sessions, type SessionsShape } from "../services/Sessions.js"
import { socketToken } from "./auth.js"
import { BadRequest, UpgradeRequired } from "./errors.js"
import { makeKeepalive } from "./keepalive.js"
import { credentialError } from "./OperatorsHttp.js"
import { closeAndWait, SHUTDOWN_CLOSE, SHUTDOWN_GRACE, type UpgradeFailed, WsUpgrade } from "./WsUpgrade.js"

export const OPERATOR_WS_PATH = "/v1/operators/:sid/ws"

export const REPLACED_CLOSE = { code: 4000, reason: "replaced by a newer connection" } as const
export const TORN_DOWN_CLOSE = { code: 1000, reason: "operator session torn down" } as const
const INTERNAL_CLOSE = { code: 1011, reason: "internal error" } as const
export const NOT_READING_CLOSE = { code: 1008, reason: "operator is not reading" } as const

const wsKey = /^[+/0-9A-Za-z]{21}[AQgw]==$/

/** Refuse anything `ws` would refuse, as an envelope rather than its plain-text 400. */
const checkUpgradeHeaders = (headers: Readonly<Record<string, string | undefined>>) => {
  const upgrade = headers["upgrade"]
  if (upgrade === undefined || upgrade.toLowerCase() !== "websocket") {
    return Effect.fail(
      new UpgradeRequired({
        code: "upgrade_required",
        message: "this route is the operator WebSocket; connect with a WebSocket client (Upgrade: websocket)"
      })
    )
  }
  const key = headers["sec-websocket-key"]
  const version = headers["sec-websocket-version"]
  if (key === undefined || !wsKey.test(key.trim()) || (version !== "13" && version !== "8")) {
    return Effect.fail(
      new BadRequest({
        code: "bad_upgrade",
        message: "invalid WebSocket handshake (Sec-WebSocket-Key / Sec-WebSocket-Version 13); use a WebSocket client"
      })
    )
  }
  return Effect.void
}

type Inbound =
  | { readonly _tag: "text"; readonly text: string }
  | { readonly _tag: "binary" }
  | { readonly _tag: "end" }

const textOf = (data: RawData): string =>
  Buffer.isBuffer(data)
    ? data.toString("utf8")
    : Array.isArray(data)
    ? Buffer.concat(data).toString("utf8")
    : Buffer.from(data).toString("utf8")

type Ending = "closed" | "replaced" | "torn_down" | "silent" | "not_reading"

/**
 * One socket of one session, from the upgrade until the TCP socket is gone. `open` does
 * the handshake and calls `attach` synchronously on the new socket.
 */
export const runConnection = (
  open: (attach: (ws: WebSocket) => void) => Effect.Effect<WebSocket, UpgradeFailed>,
  live: LiveSession,
  sessions: SessionsShape,
  config: ServerConfigShape
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { session, sid } = live
    const inbox = yield* Queue.unbounded<Inbound>()
    const closed = yield* Deferred.make<void>()
    let socket: WebSocket | undefined
    // the protocol bounds outbound: what a socket may hold unsent; an error frame over it is dropped
    const maxBuffered = config.limits.outboundBuffer
    const send = (frame: Parameters<typeof encodeServerFrame>[0]) =>
      Effect.sync(() => {
        if (socket?.readyState === WebSocket.OPEN && socket.bufferedAmount <= maxBuffered) {
          socket.send(encodeServerFrame(frame))
        }
      })
    const keepalive = yield* makeKeepalive({
      pingEvery: config.keepalive.pingEvery,
      silentAfter: config.keepalive.silentAfter,
      ping: Effect.sync(() => {
        if (socket?.readyState === WebSocket.OPEN) socket.ping()
      }),
      onAliveTick: Effect.asVoid(sessions.touch(sid))
    })

    // Never leave with the socket open; on interruption (server stopping) say so with 1001.
    yield* Effect.addFinalizer((exit) =>
      socket === undefined ? Effect.void : closeAndWait(
        socket,
        Exit.isSuccess(exit) ? undefined : Exit.isInterrupted(exit) ? SHUTDOWN_CLOSE : INTERNAL_CLOSE,
        SHUTDOWN_GRACE
      )
    )

    const attach = (ws: WebSocket) => {
      socket = ws
      ws.on("message", (data: RawData, isBinary: boolean) => {
        keepalive.alive()
        Queue.unsafeOffer(inbox, isBinary ? { _tag: "binary" } : { _tag: "text", text: textOf(data) })
      })
      ws.on("pong", keepalive.alive)
      // protocol errors (1009 and the like): ws has already sent the close, 'close' follows
      ws.on("error", () => {})
      ws.once("close", () => {
        Queue.unsafeOffer(inbox, { _tag: "end" })
        Deferred.unsafeDone(closed, Exit.void)
      })
    }
    const upgraded = yield* Effect.either(open(attach))
    if (Either.isLeft(upgraded)) {
      yield* Effect.logDebug("operator socket upgrade failed").pipe(
        Effect.annotateLogs({ sid, reason: upgraded.left.message })
      )
      return
    }
    const ws = upgraded.right

    const attached = yield* Effect.option(session.replaceOutbound)
    if (Option.isNone(attached)) {
      // torn down between the credential check and now
      yield* closeAndWait(ws, TORN_DOWN_CLOSE)
      return
    }
    const queue = attached.value
    yield* Effect.addFinalizer(() => session.clearOutboundIf(queue))
    yield* sessions.touch(sid)

    // A batch goes out with the TCP socket corked, so its frames leave in one write rather
    // than one syscall each; every frame still checks the socket is open first. It stops at
    // the buffer limit and says how many frames it wrote.
    const sendSome = (frames: ReadonlyArray<ServerFrame>, from: number) =>
      Effect.sync(() => {
        const ws = socket
        if (ws === undefined || ws.readyState !== WebSocket.OPEN) return frames.length
        const raw = (ws as unknown as { readonly _socket?: Partial<Pick<Socket, "cork" | "uncork">> })._socket
        const corked = typeof raw?.cork === "function" && typeof raw.uncork === "function"
        if (corked) raw.cork!()
        let i = from
        try {
          for (; i < frames.length && ws.bufferedAmount <= maxBuffered; i++) {
            if (ws.readyState !== WebSocket.OPEN) return frames.length
            ws.send(encodeServerFrame(frames[i]!))
          }
        } finally {
          if (corked) raw.uncork!()
        }
        return i
      })
    const notReading = yield* Deferred.make<void>()
    const stallMillis = Duration.toMillis(config.outboundStall)
    // Over the limit the writer takes nothing more from the queue (the requests stay in the
    // pending map, nothing grows here) until the peer reads; a buffer that stays over it
    // for `outboundStall` means the peer does not read.
    const awaitRoom = Effect.gen(function*() {
      const since = yield* Clock.currentTimeMillis
      while (socket !== undefined && socket.readyState === WebSocket.OPEN && socket.bufferedAmount > maxBuffered) {
        if ((yield* Clock.currentTimeMillis) - since >= stallMillis) return false
        yield* Effect.sleep("20 millis")
      }
      return true
    })
    const sendBatch = (frames: ReadonlyArray<ServerFrame>): Effect.Effect<void> =>
      Effect.flatMap(sendSome(frames, 0), function loop(sent): Effect.Effect<void> {
        if (sent >= frames.length) return Effect.void
        return Effect.flatMap(awaitRoom, (room) =>
          room ? Effect.flatMap(sendSome(frames, sent), loop) : Deferred.succeed(notReading, undefined).pipe(
            Effect.zipRight(Effect.never)
          ))
      })

    // Taking from the queue interrupts this fiber once it is shut down (replaced or torn down).
    yield* Queue.takeBetween(queue, 1, 1024).pipe(
      Effect.flatMap((batch) => sendBatch(Chunk.toReadonlyArray(batch))),
      Effect.forever,
      Effect.forkScoped
    )

    const reply = (error: Omit<ErrorFrame, "type">) => send({ type: "error", ...error })
    const handle = (message: Inbound): Effect.Effect<void> => {
      if (message._tag === "binary") return reply(binaryFrameProblem)
      if (message._tag === "end") return Effect.void
      return Either.match(decodeOperatorFrame(message.text), {
        onLeft: reply,
        onRight: (decoded) =>
          Effect.flatMap(session.resolve(decoded), (outcome) =>
            outcome === "resolved" ? Effect.void : reply({
              code: "unknown_request",
              // a hook_after was sent, but it is a notification: say so rather than "never sent"
              message: isHookAfterReqId(decoded.req_id)
                ? `request ${cut(decoded.req_id)} is a hook_after, which needs no reply: do not answer hook_after`
                : `request ${cut(decoded.req_id)} is not owed by this session (never sent, already answered, ` +
                  `or withdrawn); do not reply to it again`,
              req_id: cut(decoded.req_id)
            }))
      })
    }
    // Frames in arrival order, a batch at a time; one access record per batch.
    const reader: Effect.Effect<void> = Effect.flatMap(Queue.takeBetween(inbox, 1, 256), (batch) => {
      let end = false
      const messages: Array<Inbound> = []
      for (const m of batch) {
        if (m._tag === "end") end = true
        else messages.push(m)
      }
      return Effect.forEach(messages, handle, { discard: true }).pipe(
        Effect.zipRight(messages.length > 0 ? Effect.asVoid(sessions.touch(sid)) : Effect.void),
        Effect.zipRight(end ? Effect.void : Effect.suspend(() => reader))
      )
    })
    const readerFiber = yield* Effect.forkScoped(reader)

    const endings: ReadonlyArray<Effect.Effect<Ending>> = [
      Effect.as(Deferred.await(closed), "closed"),
      Effect.zipRight(
        Queue.awaitShutdown(queue),
        Effect.map(session.state, (s) => (s === "torn_down" ? "torn_down" : "replaced"))
      ),
      Effect.as(session.awaitTeardown, "torn_down"),
      Effect.as(keepalive.run, "silent"),
      Effect.as(Deferred.await(notReading), "not_reading")
    ]
    const ending = yield* Effect.raceAll(endings)
    yield* Effect.logDebug("operator socket ending").pipe(Effect.annotateLogs({ sid, ending }))
    switch (ending) {
      case "replaced":
        // frames already on their way are still read (and resolved) until the close completes
        yield* closeAndWait(ws, REPLACED_CLOSE)
        break
      case "torn_down":
        yield* closeAndWait(ws, TORN_DOWN_CLOSE)
        break
      case "silent":
        // detached as if it had closed (a disconnect, not a teardown); nothing to say to a dead peer
        ws.terminate()
        yield* closeAndWait(ws, undefined)
        break
      case "not_reading":
        // a disconnect (docs/operators.md: a disconnect, a socket that stops reading): pending requests stay and are redelivered on reconnect
        yield* session.clearOutboundIf(queue)
        yield* Effect.logWarning("operator socket closed: it stopped reading").pipe(
          Effect.annotateLogs({ sid, buffered: ws.bufferedAmount })
        )
        yield* closeAndWait(ws, NOT_READING_CLOSE, "5 seconds")
        break
      case "closed":
        break
    }
    yield* Fiber.join(readerFiber).pipe(Effect.timeout("5 seconds"), Effect.ignore)
  })

/** The raw route beside the HttpApi (HttpApi has no WebSocket endpoints). */
export const OperatorSocketLive = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions
    const upgrader = yield* WsUpgrade
    const config = yield* ServerConfig
    yield* router.add(
      "GET",
      OPERATOR_WS_PATH,
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const { sid } = yield* HttpLayerRouter.params
        const token = yield* socketToken(request)
        const live = yield* Effect.mapError(sessions.authenticate(sid ?? "", token), credentialError)
        yield* checkUpgradeHeaders(request.headers)
        yield* Effect.scoped(runConnection((attach) => upgrader.upgrade(request, attach), live, sessions, config))
        // written onto a socket that is already gone: a no-op
        return HttpServerResponse.empty()
      })
    )
  })
)
