/**
 * `GET /v1/operators/:sid/ws` (docs/operators.md). The bearer is checked
 * before the upgrade, so a bad credential is an ordinary 401/404 envelope. After the
 * upgrade one connection runs until the peer closes, a newer socket replaces it (4000),
 * the session is torn down (1000), the peer goes silent (cut), or the server stops (1001).
 *
 * Writes go straight to the `ws` socket and check its state first, so a write after close
 * is dropped rather than hanging. The HTTP handler returns once the
 * handshake is done; the connection lives on a fiber of its own (WsUpgrade.serve).
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Chunk, Clock, Duration, Effect, Exit, Option, Queue, type Scope } from "effect"
import type { Socket } from "node:net"
import { type RawData, WebSocket } from "ws"
import { ServerConfig, type ServerConfigShape } from "../layers/ServerConfig.js"
import { binaryFrameProblem } from "../protocol/decode.js"
import { encodeServerFrame, type ServerFrame } from "../protocol/frames.js"
import { cut } from "../protocol/json.js"
import { type LiveSession, Sessions, type SessionsShape } from "../services/Sessions.js"
import { socketToken } from "./auth.js"
import { BadRequest, UpgradeRequired } from "./errors.js"
import type { KeepaliveSweep, Watched } from "./keepalive.js"
import { credentialError } from "./OperatorsHttp.js"
import { decodeReply } from "./replyFastPath.js"
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

const textOf = (data: RawData): string =>
  Buffer.isBuffer(data)
    ? data.toString("utf8")
    : Array.isArray(data)
    ? Buffer.concat(data).toString("utf8")
    : Buffer.from(data).toString("utf8")

type Ending = "closed" | "replaced" | "torn_down" | "silent" | "not_reading"

/** Inbound frames move the session's last access at most this often (it is only read by idle expiry). */
export const TOUCH_EVERY_MS = 1_000

const rawSocketOf = (ws: WebSocket) =>
  (ws as unknown as { readonly _socket?: Partial<Pick<Socket, "cork" | "uncork">> })._socket

const noop = () => {}

/**
 * One socket of one session, from the upgrade until the TCP socket is gone. `open` does
 * the handshake and calls `attach` synchronously on the new socket.
 *
 * One fiber per socket (this one), which is also the writer: it drains the outbound queue
 * in batches until the queue is shut — by a newer socket, by teardown, or by this socket's
 * 'close' (which clears the slot). Replies are decoded and resolved in the 'message'
 * listener itself, and liveness is watched by the server-wide keepalive sweep.
 */
export const runConnection = (
  open: (attach: (ws: WebSocket) => void) => Effect.Effect<WebSocket, UpgradeFailed>,
  fork: (effect: Effect.Effect<unknown>) => void,
  live: LiveSession,
  sessions: SessionsShape,
  keepalive: KeepaliveSweep,
  config: ServerConfigShape
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { session, sid } = live
    const clock = yield* Effect.clock
    let socket: WebSocket | undefined
    let queue: Queue.Dequeue<ServerFrame> | undefined
    let watched: Watched | undefined
    let closed = false
    let silent = false
    let lastTouch = Number.NEGATIVE_INFINITY
    let corked = false
    let notReading = false
    // the protocol bounds outbound: what a socket may hold unsent; an error frame over it is dropped
    const maxBuffered = config.limits.outboundBuffer
    const stallMillis = Duration.toMillis(config.outboundStall)

    const sendNow = (frame: ServerFrame) => {
      if (socket?.readyState === WebSocket.OPEN && socket.bufferedAmount <= maxBuffered) {
        socket.send(encodeServerFrame(frame))
      }
    }
    const touch = () => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now - lastTouch < TOUCH_EVERY_MS) return
      lastTouch = now
      fork(sessions.touch(sid))
    }
    const onText = (text: string) => {
      const decoded = decodeReply(text)
      if (decoded._tag === "Left") return sendNow({ type: "error", ...decoded.left })
      const reply = decoded.right
      if (Effect.runSync(session.resolve(reply)) === "resolved") return
      sendNow({
        type: "error",
        code: "unknown_request",
        message: `request ${cut(reply.req_id)} is not owed by this session (never sent, already answered, ` +
          `or withdrawn); do not reply to it again`,
        req_id: cut(reply.req_id)
      })
    }

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
        watched?.alive()
        touch()
        if (isBinary) sendNow({ type: "error", ...binaryFrameProblem })
        else onText(textOf(data))
      })
      ws.on("pong", () => watched?.alive())
      // protocol errors (1009 and the like): ws has already sent the close, 'close' follows
      ws.on("error", noop)
      ws.once("close", () => {
        closed = true
        watched?.remove()
        // shuts the queue, which ends the writer below
        if (queue !== undefined) fork(session.clearOutboundIf(queue))
      })
    }
    const upgraded = yield* Effect.either(open(attach))
    if (upgraded._tag === "Left") {
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
    const out = attached.value
    queue = out
    yield* Effect.addFinalizer(() => session.clearOutboundIf(out))
    if (closed) return
    watched = keepalive.watch({
      ping: () => {
        if (ws.readyState === WebSocket.OPEN) ws.ping()
      },
      onSilent: () => {
        silent = true
        ws.terminate()
      },
      onAliveTick: () => fork(sessions.touch(sid))
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => watched?.remove()))
    lastTouch = clock.unsafeCurrentTimeMillis()
    yield* sessions.touch(sid)

    // Frames go out with the TCP socket corked until the event loop's next check phase, so
    // everything sent in one tick leaves in one write rather than one syscall each.
    const uncork = () => {
      corked = false
      rawSocketOf(ws)?.uncork?.()
    }
    // Writes stop at the buffer limit; the index of the first frame not written comes back.
    const sendSome = (frames: ReadonlyArray<ServerFrame>, from: number) =>
      Effect.sync(() => {
        if (ws.readyState !== WebSocket.OPEN) return frames.length
        if (!corked) {
          const raw = rawSocketOf(ws)
          if (typeof raw?.cork === "function" && typeof raw.uncork === "function") {
            raw.cork()
            corked = true
            setImmediate(uncork)
          }
        }
        let i = from
        for (; i < frames.length && ws.bufferedAmount <= maxBuffered; i++) {
          if (ws.readyState !== WebSocket.OPEN) return frames.length
          ws.send(encodeServerFrame(frames[i]!))
        }
        return i
      })
    // Over the limit the writer takes nothing more from the queue (the requests stay in the
    // pending map, nothing grows here) until the peer reads; a buffer that stays over it
    // for `outboundStall` means the peer does not read.
    const awaitRoom = Effect.gen(function*() {
      const since = yield* Clock.currentTimeMillis
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > maxBuffered) {
        if ((yield* Clock.currentTimeMillis) - since >= stallMillis) return false
        yield* Effect.sleep("20 millis")
      }
      return true
    })
    const sendBatch = (frames: ReadonlyArray<ServerFrame>): Effect.Effect<void, "not_reading"> =>
      Effect.flatMap(sendSome(frames, 0), function loop(sent): Effect.Effect<void, "not_reading"> {
        if (sent >= frames.length) return Effect.void
        return Effect.flatMap(awaitRoom, (room) => {
          if (room) return Effect.flatMap(sendSome(frames, sent), loop)
          notReading = true
          return Effect.fail("not_reading" as const)
        })
      })
    // Taking from a shut-down queue interrupts the take: that is the end of the writer.
    yield* Effect.exit(
      Effect.forever(Effect.flatMap(Queue.takeBetween(out, 1, 1024), (batch) => sendBatch(Chunk.toReadonlyArray(batch))))
    )

    const ending: Ending = notReading
      ? "not_reading"
      : silent
      ? "silent"
      : closed
      ? "closed"
      : (yield* session.state) === "torn_down"
      ? "torn_down"
      : "replaced"
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
        yield* closeAndWait(ws, undefined)
        break
      case "not_reading":
        // a disconnect (docs/operators.md): pending requests stay and are redelivered on reconnect
        yield* session.clearOutboundIf(out)
        yield* Effect.logWarning("operator socket closed: it stopped reading").pipe(
          Effect.annotateLogs({ sid, buffered: ws.bufferedAmount })
        )
        yield* closeAndWait(ws, NOT_READING_CLOSE, "5 seconds")
        break
      case "closed":
        break
    }
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
        yield* upgrader.serve(request, (open, fork) => runConnection(open, fork, live, sessions, upgrader.keepalive, config))
        // after a handshake this response is never written (WsUpgrade.serve); after a failed
        // one the socket is already gone
        return HttpServerResponse.empty()
      })
    )
  })
)
