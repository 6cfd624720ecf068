/**
 * The Node HTTP server and the router on it. We create the `http.Server` ourselves to
 * guard upgrade sockets before the platform sees them (WsUpgrade.ts).
 */
import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { RoutesLive } from "../http/routes.js"
import { guardUpgrades } from "../http/WsUpgrade.js"
import { ServerConfig } from "./ServerConfig.js"

export const makeNodeServer = () => guardUpgrades(createServer())

/** Listens on the configured host and port once built. */
export const NodeServerLive = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) => NodeHttpServer.layer(makeNodeServer, { host: config.host, port: config.port }))
)

/** The routes served on whatever `HttpServer` is provided; per-request logging off. */
export const HttpLive = HttpLayerRouter.serve(RoutesLive, { disableLogger: true, disableListenLog: true })
