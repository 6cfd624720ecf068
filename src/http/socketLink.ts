/**
 * One operator socket after its handshake (`OperatorSocket.ts` sets it up): the `Link`
 * between the `ws` socket and the session's outbound queue, with no fiber while it is idle.
 */
import { Chunk, Clock, Effect, Queue } from "effect"
import type { Socket } from "node:net"
import { type RawData, WebSocket } from "ws"
import { binaryFrameProblem } from "../protocol/decode.js"
import { encodeServerFrame, type ServerFrame } from "../protocol/frames.js"
import { isHookAfterReqId } from "../protocol/ids.js"
import { cut } from "../protocol/json.js"
import type { OperatorSessionShape } from "../services/OperatorSession.js"
import type { OutboundWatcher } from "../services/OutboundWatch.js"
import type { SessionsShape } from "../services/Sessions.js"
import type { KeepaliveTarget, Watched } from "./keepalive.js"
import { decodeReply } from "./replyFastPath.js"
import { closeAndWait } from "./WsUpgrade.js"

export const REPLACED_CLOSE = { code: 4000, reason: "replaced by a newer connection" } as const
export const TORN_DOWN_CLOSE = { code: 1000, reason: "operator session torn down" } as const
export const NOT_READING_CLOSE = { code: 1008, reason: "operator is not reading" } as const

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
export interface Shared {
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
export class Link implements OutboundWatcher, KeepaliveTarget {
  ws: WebSocket | undefined
  queue: Queue.Dequeue<ServerFrame> | undefined
  watched: Watched | undefined
  closed = false
  silent = false
  notReading = false
  /** Waiting for the peer to read: what was taken waits with the stall's fiber, the rest in the queue. */
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
export const listen = (link: Link, ws: WebSocket) => {
  link.ws = ws
  ws.on("message", (data: RawData, isBinary: boolean) => link.onMessage(data, isBinary))
  ws.on("pong", () => link.watched?.alive())
  // protocol errors (1009 and the like): ws has already sent the close, 'close' follows
  ws.on("error", noop)
  ws.once("close", () => link.onClose())
}
