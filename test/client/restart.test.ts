/**
 * Server restart while the operator is connected (protocol.md §8): the session survives in
 * the store, the client reconnects by itself, the resumed run re-issues its spawn with the
 * same req_id, and the client does not hand it out a second time. The store here is the
 * in-memory one shared by two server lifetimes, as the resume tests use it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Option, Stream } from "effect"
import { HttpLive } from "../../src/client/api.js"
import { connectOperator } from "../../src/client/OperatorConnection.js"
import { request } from "../e2e/helpers.js"
import { durableStorage, startApp } from "../e2e/routes-fixtures.js"
import { startProxy } from "./proxy.js"

const oneStep = {
  operators: [{ name: "main" }],
  agents: [{ name: "coder", kind: "operator", operator: "main" }],
  flow: { kind: "step", ref: "coder", in: { op: "path", at: "$.task" }, out: "$.result" }
}

describe("OperatorConnection across a server restart", () => {
  it.live("reconnects to the restarted server with its session and answers the resumed step once", () =>
    Effect.gen(function*() {
      const storage = yield* Effect.promise(() => durableStorage())
      const first = yield* Effect.promise(() => startApp({}, {}, storage.layer))
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startProxy(first.port)), (p) => Effect.promise(() => p.close()))
      const conn = yield* connectOperator({ server: proxy.url, backoff: { base: "50 millis", max: "200 millis" } })
      const launched = yield* Effect.promise(() =>
        request(first, "POST", "/v1/tasks", {
          headers: { "content-type": "application/json", authorization: `Bearer ${conn.token}` },
          body: JSON.stringify({ blueprint: oneStep, input: { task: "survive" }, operator_sid: conn.sid })
        })
      )
      expect(launched.status).toBe(202)
      const runId = launched.json.run_id as string
      const take = (ms: number) =>
        conn.requests.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.head), Effect.timeout(ms), Effect.option, Effect.map(Option.flatten))
      const spawn = Option.getOrThrow(yield* take(5000))

      yield* Effect.promise(() => first.close())
      const second = yield* Effect.acquireRelease(
        Effect.promise(() => startApp({}, {}, storage.layer)),
        (s) => Effect.promise(() => s.close())
      )
      proxy.retarget(second.port)
      const interrupted = yield* Effect.promise(() => request(second, "GET", `/v1/runs/${runId}`))
      expect(interrupted.json.status).toBe("interrupted")

      // the client finds the new server by itself, with the same session
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        for (;;) {
          const info = await request(second, "GET", `/v1/operators/${conn.sid}`, { headers: { authorization: `Bearer ${conn.token}` } })
          if (info.status === 200 && info.json.connected === true) return
          if (Date.now() > deadline) throw new Error(`no reconnect: ${info.status} ${info.text}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      })
      expect(yield* conn.connects).toBe(2)

      expect((yield* Effect.promise(() => request(second, "POST", `/v1/runs/${runId}/resume`))).status).toBe(202)
      // the re-issued spawn carries the same req_id: not handed out again
      expect(Option.isNone(yield* take(700))).toBe(true)

      const handle = (spawn.frame as { worker_handle: string }).worker_handle
      const submit = yield* Effect.promise(() =>
        request(second, "POST", "/v1/worker/submit", {
          headers: { authorization: `Bearer ${handle}`, "content-type": "text/plain" },
          body: "after the restart"
        })
      )
      expect(submit.status, submit.text).toBe(200)
      yield* conn.spawnAck(spawn.frame.req_id)
      const done = yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        for (;;) {
          const run = await request(second, "GET", `/v1/runs/${runId}`)
          if (run.json.status !== "running") return run.json
          if (Date.now() > deadline) throw new Error(`still running: ${run.text}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      })
      expect(done.status).toBe("done")
      expect(done.result.result).toBe("after the restart")
    }).pipe(Effect.scoped, Effect.provide(HttpLive)))
})
