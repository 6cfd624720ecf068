/**
 * The Node HTTP server and the router on it. We create the `http.Server` ourselves to
 * guard upgrade sockets before the platform sees them (WsUpgrade.ts).
 */
import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import { createServer, type Server, STATUS_CODES } from "node:http"
import type { Socket } from "node:net"
import type { Duplex } from "node:stream"
import { countRequests } from "../http/httpMetrics.js"
import { knownRoutes, RoutesLive } from "../http/routes.js"
import { guardUpgrades } from "../http/WsUpgrade.js"
import { ServerConfig } from "./ServerConfig.js"

/** Node's refusals below HTTP (unparsable request, headers too large) as the JSON envelope. */
const protocolRefusal = (code: string | undefined): readonly [number, string, string] => {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return [431, "headers_too_large", "the request headers are too large; send fewer or shorter headers"]
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "request_timeout", "the request did not arrive in time; send it again"]
    default:
      return [400, "bad_request", "the request is not valid HTTP/1.1; send a well-formed request"]
  }
}

export const onClientError = (error: Error & { readonly code?: string }, socket: Duplex) => {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage !== undefined) {
    // a response already started on this socket: nothing clean to say
    socket.destroy()
    return
  }
  const [status, code, message] = protocolRefusal(error.code)
  const body = JSON.stringify({ error: { code, message } })
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
}

/** How long requests still in flight may finish once the server stops listening. */
export const DRAIN_GRACE_MS = 1_000

/**
 * `close` waits for every connection to end, and a request that waits on an operator (a
 * sub-agent's ask, a `wait: true` launch) may never end by itself: shutdown would hang
 * (serve must exit within 5 s). Idle keep-alive connections go at once; whatever is still
 * open after the grace is cut, which ends its request fiber.
 */
const boundedClose = (server: Server): Server => {
  const close = server.close.bind(server)
  server.close = ((callback?: (error?: Error) => void) => {
    close(callback)
    server.closeIdleConnections()
    setTimeout(() => server.closeAllConnections(), DRAIN_GRACE_MS).unref()
    return server
  }) as Server["close"]
  return server
}

export const makeNodeServer = () => {
  const server = boundedClose(guardUpgrades(createServer()))
  server.on("clientError", onClientError)
  return server
}

/** The node server itself, for the listener in front of the router (LeanWorker.ts). */
export class NodeServer extends Context.Tag("swarmgate/NodeServer")<NodeServer, Server>() {}

/** Listens on the configured host and port once built; also provides the node server. */
export const NodeServerLive = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) => {
    const server = makeNodeServer()
    return Layer.merge(
      NodeHttpServer.layer(() => server, { host: config.host, port: config.port }),
      Layer.succeed(NodeServer, server)
    )
  })
)

/** The routes served on whatever `HttpServer` is provided; per-request logging off, request counting on. */
export const HttpLive = HttpLayerRouter.serve(RoutesLive, {
  disableLogger: true,
  disableListenLog: true,
  middleware: countRequests(knownRoutes)
})
