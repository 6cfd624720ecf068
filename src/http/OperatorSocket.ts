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
import { Duration, Effect, Exit, Option } from "effect"
import type { WebSocket } from "ws"
import { ServerConfig, type ServerConfigShape } from "../layers/ServerConfig.js"
import { watchOutbound } from "../services/OutboundWatch.js"
import { type LiveSession, Sessions, type SessionsShape } from "../services/Sessions.js"
import { socketToken } from "./auth.js"
import { BadRequest, UpgradeRequired } from "./errors.js"
import type { KeepaliveSweep } from "./keepalive.js"
import { credentialError } from "./OperatorsHttp.js"
import { Link, listen, TORN_DOWN_CLOSE } from "./socketLink.js"
import { closeAndWait, SHUTDOWN_CLOSE, SHUTDOWN_GRACE, type UpgradeFailed, WsUpgrade } from "./WsUpgrade.js"

export const OPERATOR_WS_PATH = "/v1/operators/:sid/ws"

export { NOT_READING_CLOSE, REPLACED_CLOSE, TORN_DOWN_CLOSE, TOUCH_EVERY_MS } from "./socketLink.js"
const INTERNAL_CLOSE = { code: 1011, reason: "internal error" } as const

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
