/**
 * WebSocket upgrades for the operator route, done with our own `ws` server so the frame
 * limit is `maxPayload` (a larger frame is refused from its header with close 1009, never
 * buffered whole); the platform's upgrade offers no such option.
 *
 * Node hands the upgrade's first bytes (`head`) only to 'upgrade' listeners, so
 * `guardUpgrades` keeps them per request, and it also gives every upgrade socket an
 * 'error' listener: a peer resetting the connection mid-handshake must not kill the
 * process.
 */
import type { HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Context, Data, Deferred, Duration, Effect, Exit, FiberSet, Layer, Runtime, type Scope } from "effect"
import type { IncomingMessage, Server } from "node:http"
import type { Duplex } from "node:stream"
import { WebSocket, WebSocketServer } from "ws"
import { ServerConfig } from "../layers/ServerConfig.js"
import { WS_PROTOCOL } from "./auth.js"
import { makeDeferred } from "../services/session/sharedDeferred.js"
import { type KeepaliveSweep, makeKeepaliveSweep } from "./keepalive.js"

const heads = new WeakMap<IncomingMessage, Buffer>()
/** The socket's 'close' listeners before the platform saw the upgrade (ours and Node's). */
const closeListenersBefore = new WeakMap<Duplex, ReturnType<Duplex["listeners"]>>()
/** The 'close' listeners `ws` put on a socket it took over. */
const wsCloseListeners = new WeakMap<Duplex, ReturnType<Duplex["listeners"]>>()
const noop = () => {}

/** Attach before the platform's own 'upgrade' listener (i.e. right after createServer). */
export const guardUpgrades = (server: Server): Server =>
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", noop)
    // An upgrade socket is outside Node's HTTP parser: once a refusal is written the
    // platform only ends it, and a peer that keeps writing would hold it open forever.
    // A socket `ws` took over has flushed its close frame by 'finish', so this is safe.
    socket.once("finish", () => socket.destroy())
    if (head.length > 0) heads.set(request, head)
    closeListenersBefore.set(socket, socket.listeners("close"))
  })

export class UpgradeFailed extends Data.TaggedError("UpgradeFailed")<{ readonly message: string }> {}

export const SHUTDOWN_CLOSE = { code: 1001, reason: "server shutting down" } as const
/** How long a peer has to answer the 1001 at shutdown; the whole shutdown must fit in 5 s. */
export const SHUTDOWN_GRACE = "1 second"

/** Close (unless closed) and wait until the TCP socket is gone; after `grace`, cut it. */
export const closeAndWait = (
  ws: WebSocket,
  close: { readonly code: number; readonly reason: string } | undefined,
  grace: Duration.DurationInput = "2 seconds"
): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (ws.readyState === WebSocket.CLOSED) return Effect.void
    const closed = Effect.async<void>((resume) => {
      const done = () => resume(Effect.void)
      ws.once("close", done)
      return Effect.sync(() => ws.off("close", done))
    })
    if (close !== undefined && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      ws.close(close.code, close.reason)
    }
    // Often run from a finalizer (uninterruptible): without `interruptible` the timeout could
    // not stop the wait, and a peer that never answers the close would hold it until ws's own
    // 30 s timer (and with it a server shutdown).
    return Effect.interruptible(closed).pipe(
      Effect.timeoutTo({ duration: grace, onSuccess: () => false, onTimeout: () => true }),
      Effect.flatMap((timedOut) => (timedOut ? Effect.sync(() => ws.terminate()) : Effect.void))
    )
  })

/**
 * One socket's life; `open` does the handshake and calls `attach` on the new socket;
 * `fork` runs a short effect from a socket listener (one runtime shared by every socket).
 */
export type Connection = (
  open: (attach: (ws: WebSocket) => void) => Effect.Effect<WebSocket, UpgradeFailed>,
  fork: (effect: Effect.Effect<unknown>) => void
) => Effect.Effect<void, never, Scope.Scope>

/**
 * After our own handshake the platform still answers the HTTP request, and it would write
 * that response onto the TCP socket `ws` now owns. A response with no socket ends without
 * writing anything, and the platform skips one that has ended.
 */
const retireHttpResponse = (request: HttpServerRequest.HttpServerRequest) => {
  const response = NodeHttpServerRequest.toServerResponse(request)
  if (response.socket !== null) response.detachSocket(response.socket)
  response.end()
  dropPlatformCloseListener(NodeHttpServerRequest.toIncomingMessage(request).socket)
}

/**
 * The platform's upgrade handler puts a 'close' listener on the socket that interrupts the
 * request's fiber; after the handshake that fiber has ended, and the listener would only
 * keep it, its context, the IncomingMessage and the ServerResponse alive for as long as
 * the socket lives (about 2 KiB per idle socket, docs/performance.md). What stays: the
 * listeners there before the platform saw the upgrade, and those `ws` added.
 */
const dropPlatformCloseListener = (socket: Duplex) => {
  const keep = [...(closeListenersBefore.get(socket) ?? []), ...(wsCloseListeners.get(socket) ?? [])]
  closeListenersBefore.delete(socket)
  wsCloseListeners.delete(socket)
  for (const listener of socket.listeners("close")) {
    if (!keep.includes(listener)) socket.off("close", listener as (...args: Array<unknown>) => void)
  }
}

export class WsUpgrade extends Context.Tag("swarmgate/WsUpgrade")<WsUpgrade, {
  /**
   * Complete the handshake on the request's socket. `attach` runs synchronously as the
   * socket opens, so no frame can arrive before its listeners exist.
   */
  readonly upgrade: (
    request: HttpServerRequest.HttpServerRequest,
    attach: (ws: WebSocket) => void
  ) => Effect.Effect<WebSocket, UpgradeFailed>
  /**
   * Run `connection` on a fiber of its own outside the HTTP request (see `serve` below);
   * returns once the handshake is settled. `connection` must call `open` to do the
   * handshake; it may return once the socket is set up (its listeners carry it on).
   */
  readonly serve: (
    request: HttpServerRequest.HttpServerRequest,
    connection: Connection
  ) => Effect.Effect<void>
  /** The one keepalive sweep of every operator socket (docs/operators.md, Liveness). */
  readonly keepalive: KeepaliveSweep
}>() {
  /** Closing the layer closes every socket it opened with 1001. */
  static readonly layer: Layer.Layer<WsUpgrade, never, ServerConfig> = Layer.scoped(
    WsUpgrade,
    Effect.gen(function*() {
      const config = yield* ServerConfig
      const wss = yield* Effect.acquireRelease(
        Effect.sync(() =>
          new WebSocketServer({
            noServer: true,
            maxPayload: config.limits.frame,
            perMessageDeflate: false,
            // a browser that sent its token as `bearer.<token>` gets `swarmgate.v1` back
            handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false)
          })
        ),
        (wss) =>
          Effect.forEach(wss.clients, (ws) => closeAndWait(ws, SHUTDOWN_CLOSE, SHUTDOWN_GRACE), { concurrency: "unbounded" }).pipe(
            Effect.zipRight(Effect.async<void>((resume) => wss.close(() => resume(Effect.void))))
          )
      )
      const upgrade = (request: HttpServerRequest.HttpServerRequest, attach: (ws: WebSocket) => void) =>
        Effect.async<WebSocket, UpgradeFailed>((resume) => {
          const incoming = NodeHttpServerRequest.toIncomingMessage(request)
          const socket = incoming.socket
          if (socket.destroyed) {
            resume(Effect.fail(new UpgradeFailed({ message: "the connection closed before the upgrade" })))
            return
          }
          // ws calls back only on success; a failed handshake destroys the socket
          const onClose = () =>
            resume(Effect.fail(new UpgradeFailed({ message: "the connection closed during the upgrade" })))
          socket.once("close", onClose)
          const head = heads.get(incoming) ?? Buffer.alloc(0)
          heads.delete(incoming)
          const listenersBefore = socket.listeners("close")
          wss.handleUpgrade(incoming, socket, head, (ws) => {
            socket.off("close", onClose)
            wsCloseListeners.set(socket, socket.listeners("close").filter((l) => !listenersBefore.includes(l)))
            attach(ws)
            resume(Effect.succeed(ws))
          })
          return Effect.sync(() => socket.off("close", onClose))
        })
      // Each connection runs on a fiber of this layer, not on its HTTP request's: a request
      // fiber parked for the socket's lifetime would hold the whole HTTP stack (several
      // copies of the app context) per idle socket. Closing the layer interrupts them all.
      const runConnection = yield* FiberSet.makeRuntime<never>()
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const fork = (effect: Effect.Effect<unknown>) => void runFork(effect)
      // `open` for one request, built apart from `serve` so that its closure cannot keep the
      // request (and its HTTP objects) alive for the socket's lifetime
      const opener = (request: HttpServerRequest.HttpServerRequest, settled: Deferred.Deferred<boolean>) => {
        let pending: HttpServerRequest.HttpServerRequest | undefined = request
        return (attach: (ws: WebSocket) => void) =>
          Effect.suspend(() => {
            const req = pending
            pending = undefined
            return req === undefined
              ? Effect.fail(new UpgradeFailed({ message: "the handshake was already done" }))
              : upgrade(req, attach)
          }).pipe(Effect.onExit((exit) => Deferred.succeed(settled, Exit.isSuccess(exit))))
      }
      const serve = (request: HttpServerRequest.HttpServerRequest, connection: Connection) =>
        Effect.suspend(() => {
          const settled = makeDeferred<boolean>()
          runConnection(
            Effect.scoped(connection(opener(request, settled), fork)).pipe(Effect.ensuring(Deferred.succeed(settled, false)))
          )
          return Effect.flatMap(Deferred.await(settled), (upgraded) =>
            upgraded ? Effect.sync(() => retireHttpResponse(request)) : Effect.void)
        })
      const keepalive = yield* makeKeepaliveSweep(config.keepalive)
      yield* Effect.forkScoped(keepalive.run)
      return { upgrade, serve, keepalive }
    })
  )
}
