/**
 * Puts the lean worker path (src/http/leanWorker.ts) in front of the router's request
 * listener on our node server, once the router is serving. Off when `leanWorker` is false
 * or env `SWARMGATE_LEAN_WORKER` is false/0/off (then every request takes the platform's
 * path, as the contract test compares), and off while spans are exported (a tracer other
 * than Effect's default is installed): the platform's path is the one that makes a span
 * per request.
 */
import { Config, Context, DefaultServices, Effect, FiberRef, Layer, Tracer } from "effect"
import type { RequestListener } from "node:http"
import { makeLeanWorker } from "../http/leanWorker.js"
import { Capabilities } from "../services/Capabilities.js"
import { Worker } from "../services/Worker.js"
import { NodeServer } from "./HttpServer.js"
import { ServerConfig } from "./ServerConfig.js"

const envSwitch = Config.boolean("SWARMGATE_LEAN_WORKER").pipe(Config.withDefault(true))

/** Whether spans leave the process: tracing enabled and a tracer other than Effect's in-memory default. */
const tracesExported = Effect.zipWith(
  FiberRef.get(FiberRef.currentTracerEnabled),
  Effect.tracer,
  (enabled, tracer) => enabled && tracer !== Context.get(DefaultServices.liveServices, Tracer.Tracer)
)

export const LeanWorkerLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const enabled = config.leanWorker ?? (yield* envSwitch)
    if (!enabled || (yield* tracesExported)) return
    const server = yield* NodeServer
    const listeners = server.listeners("request") as Array<RequestListener>
    // built after the router (App.ts): its listener is the one and only
    if (listeners.length !== 1) return yield* Effect.dieMessage(`expected the router's one request listener, found ${listeners.length}`)
    const platform = listeners[0]!
    const front = makeLeanWorker(
      { config, worker: yield* Worker, capabilities: yield* Capabilities },
      yield* Effect.runtime<never>()
    )(platform)
    // released first at shutdown: the router's listener is back before its own layer removes it
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        server.off("request", platform)
        server.on("request", front)
      }),
      () =>
        Effect.sync(() => {
          server.off("request", front)
          server.on("request", platform)
        })
    )
  })
)
