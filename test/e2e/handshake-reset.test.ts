/**
 * effect3.md pitfall 2: a peer that resets its connection while the upgrade request is
 * still being handled (here: a credential check made slow on purpose) must not kill the
 * process. Without the no-op 'error' listener on upgrade sockets (WsUpgrade.guardUpgrades)
 * node throws ECONNRESET as an uncaught error and this run fails.
 */
import { HttpServer } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { connect as netConnect } from "node:net"
import { RunningRuns } from "../../src/http/RunningRuns.js"
import { WsUpgrade } from "../../src/http/WsUpgrade.js"
import { EngineFromUrl, SessionsLive } from "../../src/layers/App.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { HttpLive, NodeServerLive } from "../../src/layers/HttpServer.js"
import { PublicUrl, ServerConfig } from "../../src/layers/ServerConfig.js"
import { Sessions } from "../../src/services/Sessions.js"
import { connect, login, request, sleep, type TestServer } from "./helpers.js"

const SlowSessions = Layer.effect(
  Sessions,
  Effect.map(Sessions, (sessions) => ({
    ...sessions,
    authenticate: (sid: string, token: string) =>
      Effect.zipRight(Effect.sleep("300 millis"), sessions.authenticate(sid, token))
  }))
).pipe(Layer.provide(SessionsLive))

const TestLayer = HttpLive.pipe(
  Layer.provideMerge(EngineFromUrl()),
  Layer.provideMerge(PublicUrl.layer),
  Layer.provideMerge(Layer.mergeAll(NodeServerLive, SlowSessions, WsUpgrade.layer, RunningRuns.none, MemoryStorage)),
  Layer.provideMerge(ServerConfig.layer({ host: "127.0.0.1", port: 0, memory: true })),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

let runtime: ManagedRuntime.ManagedRuntime<HttpServer.HttpServer | Sessions, unknown>
let server: TestServer
beforeAll(async () => {
  runtime = ManagedRuntime.make(TestLayer)
  const { port, sessions } = await runtime.runPromise(Effect.gen(function*() {
    const http = yield* HttpServer.HttpServer
    return { port: http.address._tag === "TcpAddress" ? http.address.port : 0, sessions: yield* Sessions }
  }))
  server = {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    sessions,
    run: (effect) => Effect.runPromise(effect),
    close: () => runtime.dispose()
  }
})
afterAll(() => runtime.dispose())

const resetMidUpgrade = (sid: string, token: string) =>
  new Promise<void>((resolve, reject) => {
    const socket = netConnect(server.port, "127.0.0.1", () => {
      socket.write(
        `GET /v1/operators/${sid}/ws HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${server.port}\r\n` +
          "Connection: Upgrade\r\nUpgrade: websocket\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          `Authorization: Bearer ${token}\r\n\r\n`
      )
      // the server is inside the (slow) credential check now
      setTimeout(() => {
        socket.resetAndDestroy()
        resolve()
      }, 50)
    })
    socket.on("error", reject)
  })

describe("handshake reset (effect3.md pitfall 2)", () => {
  it("a connection reset during the upgrade leaves the server serving", async () => {
    const uncaught: Array<unknown> = []
    const record = (error: unknown) => uncaught.push(error)
    process.on("uncaughtException", record)
    const { sid, token } = await login(server)
    try {
      await Promise.all([0, 1, 2].map(() => resetMidUpgrade(sid, token)))
      await sleep(500)
    } finally {
      process.off("uncaughtException", record)
    }
    expect(uncaught).toEqual([])
    expect((await request(server, "GET", "/v1/healthz")).status).toBe(200)
    // and the session still takes a socket
    const client = await connect(server, sid, token)
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    client.close()
    await client.closed
  })
})
