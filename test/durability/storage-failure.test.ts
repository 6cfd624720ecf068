/** A storage failure behind an HTTP route is a 500 with the standard envelope, never a hang or a silent success. */
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { AppLive } from "../../src/layers/App.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { RunRepo } from "../../src/services/repos/RunRepo.js"

const failing = Effect.die(new Error("disk I/O error"))

describe("storage failures over HTTP", () => {
  it("a repository that fails answers 500 internal_error", async () => {
    const storage = Layer.merge(
      MemoryStorage,
      // the boot-time scan (no limit) works; the route's list (with a limit) hits the failure
      Layer.succeed(RunRepo, {
        put: () => failing,
        get: () => failing,
        list: (query) => query.limit === undefined ? Effect.succeed([]) : failing,
        listByTask: () => failing
      })
    )
    const runtime = ManagedRuntime.make(
      AppLive({ host: "127.0.0.1", port: 0, memory: true }, {}, storage).pipe(
        Layer.provide(Logger.minimumLogLevel(LogLevel.None))
      )
    )
    try {
      const port = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) =>
        s.address._tag === "TcpAddress" ? s.address.port : 0))
      const reply = await fetch(`http://127.0.0.1:${port}/v1/runs`)
      expect(reply.status).toBe(500)
      expect((await reply.json()).error.code).toBe("internal_error")
    } finally {
      await runtime.dispose()
    }
  })
})
