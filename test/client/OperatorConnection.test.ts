/** The operator client library against a real server on loopback (protocol.md §2, §4, §5). */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, SubscriptionRef } from "effect"
import { HttpLive } from "../../src/client/api.js"
import { connectOperator, type Incoming, type OperatorConnection } from "../../src/client/OperatorConnection.js"
import { SeenRequests } from "../../src/client/seen.js"
import { request, startServer, type TestServer } from "../e2e/helpers.js"
import { startProxy } from "./proxy.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const oneStep = {
  operators: [{ name: "main" }],
  agents: [{ name: "coder", kind: "operator", operator: "main" }],
  flow: { kind: "step", ref: "coder", in: { op: "path", at: "$.task" }, out: "$.result" }
}

const twoAtOnce = {
  operators: [{ name: "main" }],
  agents: [{ name: "coder", kind: "operator", operator: "main" }],
  flow: {
    kind: "fanout",
    items: { op: "path", at: "$.items" },
    bind: "$.item",
    join: "all",
    out: "$.all",
    body: { kind: "step", ref: "coder", in: { op: "path", at: "$.item" }, out: "$.done" }
  }
}

const http = (method: string, path: string, body?: unknown, token?: string) =>
  Effect.promise(() =>
    request(server, method, path, {
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
  )

const launch = (conn: OperatorConnection, blueprint: unknown, input: unknown) =>
  http("POST", "/v1/tasks", { blueprint, input, operator_sid: conn.sid }, conn.token).pipe(
    Effect.map((reply) => {
      if (reply.status !== 202) throw new Error(`launch: ${reply.status} ${reply.text}`)
      return reply.json.run_id as string
    })
  )

const waitRun = (runId: string, pred: (run: any) => boolean = (run) => run.status !== "running") =>
  Effect.promise(async () => {
    const deadline = Date.now() + 5000
    for (;;) {
      const reply = await request(server, "GET", `/v1/runs/${runId}`)
      if (pred(reply.json)) return reply.json
      if (Date.now() > deadline) throw new Error(`run did not get there: ${reply.text}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  })

/** What a sub-agent does with the handle of a spawn: fetch the prompt, submit a result. */
const subAgent = (incoming: Incoming, body: string) =>
  Effect.promise(async () => {
    const handle = (incoming.frame as { worker_handle: string }).worker_handle
    const prompt = await request(server, "GET", "/v1/worker/prompt", { headers: { authorization: `Bearer ${handle}` } })
    expect(prompt.status).toBe(200)
    const submit = await request(server, "POST", "/v1/worker/submit", {
      headers: { authorization: `Bearer ${handle}`, "content-type": "text/plain" },
      body: body + JSON.stringify(prompt.json.prompt)
    })
    expect(submit.status).toBe(200)
  })

/** Pulls the next request, or None after `ms`. */
const pull = (stream: Stream.Stream<Incoming, unknown>, ms = 3000) =>
  stream.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.head), Effect.timeout(ms), Effect.option, Effect.map(Option.flatten))

describe("OperatorConnection", () => {
  it.live("logs in, receives a spawn, replies; the run finishes", () =>
    Effect.gen(function*() {
      const conn = yield* connectOperator({ server: server.url, desc: "client test" })
      expect(conn.sid).toMatch(/^S-/)
      expect(yield* SubscriptionRef.get(conn.status)).toBe("connected")
      const runId = yield* launch(conn, oneStep, { task: "t1" })
      const spawn = yield* pull(conn.requests).pipe(Effect.flatMap(Effect.orElseFail(() => new Error("no spawn"))))
      expect(spawn.frame.type).toBe("spawn")
      yield* subAgent(spawn, "did ")
      yield* conn.spawnAck(spawn.frame.req_id)
      const run = yield* waitRun(runId)
      expect(run.status).toBe("done")
      expect(run.result.result).toBe("did \"t1\"")
    }).pipe(Effect.scoped, Effect.provide(HttpLive)))

  it.live("disconnect mid-request: reconnects, keeps the session, hands the redelivered spawn out only once", () =>
    Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startProxy(server.port)), (p) => Effect.promise(() => p.close()))
      const conn = yield* connectOperator({ server: proxy.url, backoff: { base: "20 millis", max: "100 millis" } })
      const runId = yield* launch(conn, oneStep, { task: "t2" })
      const first = yield* pull(conn.requests).pipe(Effect.map(Option.getOrThrow))
      expect(yield* conn.connects).toBe(1)

      proxy.cut()
      // the server redelivers the pending spawn on the new socket; the stream must not repeat it
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (Date.now() < deadline) {
          const info = await request(server, "GET", `/v1/operators/${conn.sid}`, { headers: { authorization: `Bearer ${conn.token}` } })
          if (info.json.connected === true && (await Effect.runPromise(conn.connects)) >= 2) return
          await new Promise((r) => setTimeout(r, 20))
        }
        throw new Error("did not reconnect")
      })
      expect(Option.isNone(yield* pull(conn.requests, 500))).toBe(true)

      yield* subAgent(first, "")
      yield* conn.spawnAck(first.frame.req_id)
      expect((yield* waitRun(runId)).status).toBe("done")
    }).pipe(Effect.scoped, Effect.provide(HttpLive)))

  it.live("a reply sent while disconnected goes out again when the request is redelivered", () =>
    Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startProxy(server.port)), (p) => Effect.promise(() => p.close()))
      // long backoff: the reply is certainly made while no socket is attached
      const conn = yield* connectOperator({ server: proxy.url, backoff: { base: "400 millis", max: "400 millis" } })
      const runId = yield* launch(conn, oneStep, { task: "t3" })
      const spawn = yield* pull(conn.requests).pipe(Effect.map(Option.getOrThrow))
      yield* subAgent(spawn, "")
      proxy.cut()
      yield* conn.status.changes.pipe(Stream.takeUntil((s) => s !== "connected"), Stream.runDrain)
      yield* conn.spawnAck(spawn.frame.req_id)
      const run = yield* waitRun(runId)
      expect(run.status).toBe("done")
      expect(yield* conn.connects).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(HttpLive)))

  it.live("a withdrawn request: a handed-out one learns the reason, one not yet pulled is dropped", () =>
    Effect.gen(function*() {
      const conn = yield* connectOperator({ server: server.url })
      const runA = yield* launch(conn, oneStep, { task: "a" })
      const handed = yield* pull(conn.requests).pipe(Effect.map(Option.getOrThrow))
      const waiting = yield* Effect.fork(handed.withdrawn)

      const runB = yield* launch(conn, twoAtOnce, { items: [1, 2] })
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (Date.now() < deadline) {
          const info = await request(server, "GET", `/v1/operators/${conn.sid}`, { headers: { authorization: `Bearer ${conn.token}` } })
          if (info.json.pending.length === 3) return
          await new Promise((r) => setTimeout(r, 20))
        }
        throw new Error("the fanout's spawns never became pending")
      })
      expect((yield* http("POST", `/v1/runs/${runA}/cancel`)).status).toBe(202)
      expect(yield* Fiber.join(waiting)).toBe("run_cancelled")
      expect(yield* handed.isWithdrawn).toBe(true)

      // run B's two spawns sit in the client queue unpulled; cancel B, then start C
      expect((yield* http("POST", `/v1/runs/${runB}/cancel`)).status).toBe(202)
      const runC = yield* launch(conn, oneStep, { task: "c" })
      const next = yield* pull(conn.requests).pipe(Effect.map(Option.getOrThrow))
      expect(next.frame.type).toBe("spawn")
      expect((next.frame as { run_id?: string }).run_id).toBe(runC)
    }).pipe(Effect.scoped, Effect.provide(HttpLive)))

  it.live("teardown: the request stream ends cleanly and the status is ended", () =>
    Effect.gen(function*() {
      const conn = yield* connectOperator({ server: server.url, leaveOnClose: false })
      const collected = yield* Effect.fork(Stream.runCollect(conn.requests))
      const gone = yield* http("DELETE", `/v1/operators/${conn.sid}`, undefined, conn.token)
      expect(gone.status).toBe(204)
      const all = yield* Fiber.join(collected).pipe(Effect.timeout("5 seconds"))
      expect(Chunk.size(all)).toBe(0)
      expect(yield* SubscriptionRef.get(conn.status)).toBe("ended")
    }).pipe(Effect.scoped, Effect.provide(HttpLive)))

  it.live("closing the scope logs out a session it created; reusing a sid + token keeps it", () =>
    Effect.gen(function*() {
      const { sid, token } = yield* Effect.scoped(connectOperator({ server: server.url }))
      const after = yield* http("GET", `/v1/operators/${sid}`, undefined, token)
      expect(after.status).toBe(404)

      const login = yield* http("POST", "/v1/operators", {})
      const session = { sid: login.json.sid as string, token: login.json.token as string }
      yield* Effect.scoped(connectOperator({ server: server.url, session }))
      const kept = yield* http("GET", `/v1/operators/${session.sid}`, undefined, session.token)
      expect(kept.status).toBe(200)
      expect(kept.json.connected).toBe(false)
    }).pipe(Effect.provide(HttpLive)))

  it.live("an unknown sid or a wrong token ends at once with a reason", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(
        Effect.scoped(connectOperator({ server: server.url, session: { sid: `S-${"0".repeat(32)}`, token: "0".repeat(32) } }))
      )
      expect(unknown._tag === "ConnectionEnded" && unknown.reason).toBe("session_gone")
      const login = yield* http("POST", "/v1/operators", {})
      const wrong = yield* Effect.flip(
        Effect.scoped(connectOperator({ server: server.url, session: { sid: login.json.sid, token: "f".repeat(32) } }))
      )
      expect(wrong._tag === "ConnectionEnded" && wrong.reason).toBe("bad_token")
    }).pipe(Effect.provide(HttpLive)))

  it.live("a server that is not running is ServerUnreachable, whose message says how to start one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(connectOperator({ server: "http://127.0.0.1:9" })))
      expect(error._tag).toBe("ServerUnreachable")
      expect(error.message).toContain("swarmgate serve")
      // reusing a session: no login call, the socket is the first contact
      const reused = yield* Effect.flip(
        Effect.scoped(connectOperator({ server: "http://127.0.0.1:9", session: { sid: "S-1", token: "t" } }))
      )
      expect(reused._tag).toBe("ServerUnreachable")
    }).pipe(Effect.provide(HttpLive)))
})

describe("SeenRequests", () => {
  it("forgets the oldest entries past its capacity", () => {
    const seen = new SeenRequests<number, string>(3)
    for (const id of ["a", "b", "c", "d"]) seen.add(id, 0)
    expect(seen.size).toBe(3)
    expect(seen.get("a")).toBeUndefined()
    expect(seen.get("d")).toBeDefined()
  })
})
