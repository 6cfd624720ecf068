/**
 * `GET /v1/operators/:sid/ws` (docs/operators.md). The bearer is checked
 * before the upgrade, so a bad credential is an ordinary 401/404 envelope. After the
 * upgrade one connection runs until the peer closes, a newer socket replaces it (4000),
 * the session is torn down (1000), the peer goes silent (cut), or the server stops (1001).
 *
 * Writes go straight to the `ws` socket and check its state first, so a write after close
 * is dropped rather than hanging. The HTTP handler returns once the
 * handshake is done; the connection is set up on a fiber of its own (WsUpgrade.serve)
 * and then lives on in its socket's listeners, with no fiber while it is idle.
 */
import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Chunk, Clock, Duration, Effect, Exit, Option, Queue } from "effect"
import type { Socket } from "node:net"
import { type RawData, WebSocket } from "ws"
import { ServerConfig, type ServerConfigShape } from "../layers/ServerConfig.js"
import { binaryFrameProblem } from "../protocol/decode.js"
import { encodeServerFrame, type ServerFrame } from "../protocol/frames.js"
import { isHookAfterReqId } from "../protocol/ids.js"
import { cut } from "../protocol/json.js"
import type { OperatorSessionShape } from "../services/OperatorSession.js"
import { type LiveSession, Sessions, type SessionsShape } from "../services/Sessions.js"
import { socketToken } from "./auth.js"
import { BadRequest, UpgradeRequired } from "./errors.js"
import type { KeepaliveSweep, KeepaliveTarget, Watched } from "./keepalive.js"
import { credentialError } from "./OperatorsHttp.js"
import { decodeReply } from "./replyFastPath.js"
import { type OutboundWatcher, watchOutbound } from "../services/OutboundWatch.js"
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

/** What one socket shares with every other: the session registry, the runtime, the limits. */
interface Shared {
  readonly sessions: SessionsShape
  readonly fork: (effect: Effect.Effect<unknown>) => void
  readonly clock: Clock.Clock
  readonly maxBuffered: number
  readonly stallMillis: number
}

/**
 * One socket of one session once the handshake is done. No fiber runs for it while it is
 * idle: its listeners resolve replies, and the session calls `offered` / `shut` on it
 * (OutboundWatch.ts), so frames are written from the fiber that offered them. Its methods
 * live on the prototype; ten thousand idle sockets are ten thousand of these.
 */
class Link implements OutboundWatcher, KeepaliveTarget {
  ws: WebSocket | undefined
  queue: Queue.Dequeue<ServerFrame> | undefined
  watched: Watched | undefined
  closed = false
  silent = false
  notReading = false
  /** Waiting for the peer to read: frames stay in the queue (and `held`) meanwhile. */
  stalled = false
  /** The queue was shut while stalled; the stall ends the socket when it is over. */
  shutWhileStalled = false
  corked = false
  lastTouch = Number.NEGATIVE_INFINITY
  readonly uncork = () => {
    this.corked = false
    if (this.ws !== undefined) rawSocketOf(this.ws)?.uncork?.()
  }

  // the session and its sid only, not the registry's view of it
  constructor(readonly session: OperatorSessionShape, readonly sid: string, readonly shared: Shared) {}

  sendNow(frame: ServerFrame) {
    const ws = this.ws
    if (ws?.readyState === WebSocket.OPEN && ws.bufferedAmount <= this.shared.maxBuffered) {
      ws.send(encodeServerFrame(frame))
    }
  }

  touch() {
    const now = this.shared.clock.unsafeCurrentTimeMillis()
    if (now - this.lastTouch < TOUCH_EVERY_MS) return
    this.lastTouch = now
    this.shared.fork(this.shared.sessions.touch(this.sid))
  }

  onMessage(data: RawData, isBinary: boolean) {
    this.watched?.alive()
    this.touch()
    if (isBinary) return this.sendNow({ type: "error", ...binaryFrameProblem })
    const decoded = decodeReply(textOf(data))
    if (decoded._tag === "Left") return this.sendNow({ type: "error", ...decoded.left })
    const reply = decoded.right
    if (Effect.runSync(this.session.resolve(reply)) === "resolved") return
    this.sendNow({
      type: "error",
      code: "unknown_request",
      // a hook_after was sent, but it is a notification: say so rather than "never sent"
      message: isHookAfterReqId(reply.req_id)
        ? `request ${cut(reply.req_id)} is a hook_after, which needs no reply: do not answer hook_after`
        : `request ${cut(reply.req_id)} is not owed by this session (never sent, already answered, ` +
          `or withdrawn); do not reply to it again`,
      req_id: cut(reply.req_id)
    })
  }

  onClose() {
    this.closed = true
    this.watched?.remove()
    // shuts the queue; `shut` below then only logs
    if (this.queue !== undefined) this.shared.fork(this.session.clearOutboundIf(this.queue))
  }

  // KeepaliveTarget
  ping() {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.ping()
  }
  onSilent() {
    this.silent = true
    this.ws?.terminate()
  }
  onAliveTick() {
    this.shared.fork(this.shared.sessions.touch(this.sid))
  }

  // OutboundWatcher: write what the queue holds now.
  offered() {
    const { ws, queue } = this
    if (this.stalled || ws === undefined || queue === undefined || !queue.isActive()) return
    this.write(Chunk.toReadonlyArray(Effect.runSync(Queue.takeAll(queue))), 0)
  }

  shut() {
    if (this.stalled) {
      this.shutWhileStalled = true
      return
    }
    this.shared.fork(this.end)
  }

  // Frames go out with the TCP socket corked until the event loop's next check phase, so
  // everything sent in one tick leaves in one write rather than one syscall each. Writes
  // stop at the buffer limit; the rest waits for the peer to read.
  write(frames: ReadonlyArray<ServerFrame>, from: number) {
    const ws = this.ws!
    if (ws.readyState !== WebSocket.OPEN || from >= frames.length) return
    if (!this.corked) {
      const raw = rawSocketOf(ws)
      if (typeof raw?.cork === "function" && typeof raw.uncork === "function") {
        raw.cork()
        this.corked = true
        setImmediate(this.uncork)
      }
    }
    let i = from
    for (; i < frames.length && ws.bufferedAmount <= this.shared.maxBuffered; i++) {
      if (ws.readyState !== WebSocket.OPEN) return
      ws.send(encodeServerFrame(frames[i]!))
    }
    if (i < frames.length) {
      this.stalled = true
      this.shared.fork(this.awaitRoom(frames, i))
    }
  }

  // Over the limit nothing more is taken from the queue (the requests stay in the pending
  // map, nothing grows here) until the peer reads; a buffer that stays over it for
  // `outboundStall` means the peer does not read.
  awaitRoom(frames: ReadonlyArray<ServerFrame>, from: number): Effect.Effect<void> {
    const ws = this.ws!
    const { maxBuffered, stallMillis } = this.shared
    const link = this
    return Effect.gen(function*() {
      const since = yield* Clock.currentTimeMillis
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > maxBuffered) {
        if ((yield* Clock.currentTimeMillis) - since >= stallMillis) {
          link.notReading = true
          return yield* link.end
        }
        yield* Effect.sleep("20 millis")
      }
      link.stalled = false
      link.write(frames, from)
      if (link.stalled) return
      if (link.shutWhileStalled) return yield* link.end
      link.offered()
    })
  }

  /** The queue is shut (or the peer stopped reading): close the socket as the reason says. */
  get end(): Effect.Effect<void> {
    const link = this
    const ws = this.ws!
    const { session, sid } = this
    return Effect.gen(function*() {
      const ending: Ending = link.notReading
        ? "not_reading"
        : link.silent
        ? "silent"
        : link.closed
        ? "closed"
        : (yield* session.state) === "torn_down"
        ? "torn_down"
        : "replaced"
      yield* Effect.logDebug("operator socket ending").pipe(Effect.annotateLogs({ sid, ending }))
      switch (ending) {
        case "replaced":
          // frames already on their way are still read (and resolved) until the close completes
          return yield* closeAndWait(ws, REPLACED_CLOSE)
        case "torn_down":
          return yield* closeAndWait(ws, TORN_DOWN_CLOSE)
        case "silent":
          // detached as if it had closed (a disconnect, not a teardown); nothing to say to a dead peer
          return yield* closeAndWait(ws, undefined)
        case "not_reading":
          // a disconnect (docs/operators.md): pending requests stay and are redelivered on reconnect
          yield* session.clearOutboundIf(link.queue!)
          yield* Effect.logWarning("operator socket closed: it stopped reading").pipe(
            Effect.annotateLogs({ sid, buffered: ws.bufferedAmount })
          )
          return yield* closeAndWait(ws, NOT_READING_CLOSE, "5 seconds")
        case "closed":
          return
      }
    })
  }
}

// The listeners close over `link` alone, not over the connection's setup (which holds the
// HTTP request) and live as long as the socket.
const listen = (link: Link, ws: WebSocket) => {
  link.ws = ws
  ws.on("message", (data: RawData, isBinary: boolean) => link.onMessage(data, isBinary))
  ws.on("pong", () => link.watched?.alive())
  // protocol errors (1009 and the like): ws has already sent the close, 'close' follows
  ws.on("error", noop)
  ws.once("close", () => link.onClose())
}

/**
 * One socket of one session: the handshake, attaching to the session, and then nothing
 * more on this fiber; the socket lives on in its `Link` until the TCP socket is gone.
 * `open` does the handshake and calls `attach` synchronously on the new socket.
 *
 * The socket ends when its queue is shut — by a newer socket (4000), by teardown (1000),
 * or by its own 'close' (which clears the slot) — when the keepalive sweep finds the peer
 * silent, or when it stops reading (1008). The server's shutdown closes it with 1001
 * (WsUpgrade's layer).
 */
export const runConnection = (
  open: (attach: (ws: WebSocket) => void) => Effect.Effect<WebSocket, UpgradeFailed>,
  fork: (effect: Effect.Effect<unknown>) => void,
  live: LiveSession,
  sessions: SessionsShape,
  keepalive: KeepaliveSweep,
  config: ServerConfigShape
): Effect.Effect<void> =>
  Effect.flatMap(Effect.clock, (clock) => {
    const { session, sid } = live
    const link = new Link(session, sid, {
      sessions,
      fork,
      clock,
      // the protocol bounds outbound: what a socket may hold unsent; an error frame over it is dropped
      maxBuffered: config.limits.outboundBuffer,
      stallMillis: Duration.toMillis(config.outboundStall)
    })

    return Effect.gen(function*() {
      const upgraded = yield* Effect.either(open((ws) => listen(link, ws)))
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
      link.queue = out
      // closed meanwhile: its 'close' found no queue to clear
      if (link.closed) return yield* session.clearOutboundIf(out)
      link.watched = keepalive.watch(link)
      link.lastTouch = link.shared.clock.unsafeCurrentTimeMillis()
      yield* sessions.touch(sid)
      // the redelivered frames are in the queue already; from here on the session calls the link
      watchOutbound(out, link)
      link.offered()
    }).pipe(
      // Stopped before it was attached (the server is stopping: 1001; or a defect): never
      // leave the socket open or the slot holding its queue.
      Effect.onExit((exit) => {
        const ws = link.ws
        if (Exit.isSuccess(exit) || ws === undefined) return Effect.void
        link.watched?.remove()
        return Effect.zipRight(
          link.queue === undefined ? Effect.void : session.clearOutboundIf(link.queue),
          closeAndWait(ws, Exit.isInterrupted(exit) ? SHUTDOWN_CLOSE : INTERNAL_CLOSE, SHUTDOWN_GRACE)
        )
      })
    )
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
