import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import type { PendingReply } from "../../src/protocol/frames.js"
import {
  bearer,
  connect,
  envelopeCode,
  login,
  refusedUpgrade,
  request,
  sleep,
  startServer,
  type TestServer
} from "./helpers.js"
import { StepId } from "../../src/protocol/ids.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const sessionOf = async (sid: string) => {
  const live = await server.run(server.sessions.get(sid))
  if (Option.isNone(live)) throw new Error(`no session ${sid}`)
  return live.value.session
}

/** Start an engine-side `ask` in the background; resolves with the operator's reply. */
const ask = async (sid: string, question: unknown) => {
  const session = await sessionOf(sid)
  const fiber = Effect.runFork(session.request({ type: "ask", task_id: StepId.make("ST-0123456789abcdef"), question }))
  return {
    fiber,
    reply: (): Promise<PendingReply> => Effect.runPromise(Fiber.join(fiber))
  }
}

describe("upgrade refused before the upgrade (S2)", () => {
  it("missing, malformed or wrong token is 401; unknown sid is 404; no upgrade happens", async () => {
    const { sid, token } = await login(server)
    const other = await login(server)
    const path = `/v1/operators/${sid}/ws`
    const cases: Array<[number, string, string, Record<string, string>]> = [
      [401, "missing_credential", path, {}],
      [401, "malformed_credential", path, { authorization: token }],
      [401, "bad_credential", path, bearer("f".repeat(32))],
      [401, "bad_credential", path, bearer(other.token)],
      [404, "unknown_session", `/v1/operators/S-${"0".repeat(32)}/ws`, bearer(token)]
    ]
    for (const [status, code, target, headers] of cases) {
      const result = await refusedUpgrade(server, target, headers)
      expect(result.opened, code).toBe(false)
      expect(result.status, code).toBe(status)
      expect(JSON.parse(result.body).error.code).toBe(code)
      expect(result.body).not.toContain(other.token)
    }
    // nothing attached
    const info = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(info.json.connected).toBe(false)
  })

  it("a plain GET on the socket route is a 426 envelope", async () => {
    const { sid, token } = await login(server)
    const reply = await request(server, "GET", `/v1/operators/${sid}/ws`, { headers: bearer(token) })
    expect(reply.status).toBe(426)
    expect(envelopeCode(reply)).toBe("upgrade_required")
  })
})

describe("frames", () => {
  it("malformed frames of every kind get `error bad_frame` and the socket stays open", async () => {
    const { sid, token } = await login(server)
    const client = await connect(server, sid, token)
    const bad: Array<[string, unknown]> = [
      ["not JSON", "{nope"],
      ["an array", "[1,2]"],
      ["unknown type", { type: "hello", req_id: "x", value: 1 }],
      ["missing field", { type: "answer", req_id: "r-1" }],
      ["wrong type", { type: "hook_ack", req_id: "r-2", ok: "yes" }]
    ]
    for (const [what, frame] of bad) {
      const from = client.frames.length
      client.send(frame)
      const error = await client.waitFor((f) => f.type === "error", 5000, from)
      expect(error.code, what).toBe("bad_frame")
      expect(typeof error.message).toBe("string")
      if (what === "unknown type") expect(error.message).toMatch(/^unknown frame type "hello"; accepted types: /)
    }
    const from = client.frames.length
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    expect((await client.waitFor((f) => f.type === "error", 5000, from)).code).toBe("bad_frame")

    // a later valid exchange still works on the same socket
    const pending = await ask(sid, "still there?")
    const frame = await client.waitFor((f) => f.type === "ask")
    expect(frame.question).toBe("still there?")
    client.send({ type: "answer", req_id: frame.req_id, value: "yes" })
    expect(await pending.reply()).toEqual({ type: "answer", req_id: frame.req_id, value: "yes" })
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    client.close()
  })

  it("a reply for an unknown req_id gets `error unknown_request` with that req_id", async () => {
    const { sid, token } = await login(server)
    const client = await connect(server, sid, token)
    client.send({ type: "answer", req_id: "never-sent", value: 1 })
    const error = await client.waitFor((f) => f.type === "error")
    expect(error).toMatchObject({ code: "unknown_request", req_id: "never-sent" })
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    client.close()
  })

  it("a second answer to the same request is `unknown_request`: the first reply wins", async () => {
    const { sid, token } = await login(server)
    const client = await connect(server, sid, token)
    const pending = await ask(sid, "q")
    const frame = await client.waitFor((f) => f.type === "ask")
    client.send({ type: "answer", req_id: frame.req_id, value: 1 })
    client.send({ type: "answer", req_id: frame.req_id, value: 2 })
    expect((await pending.reply()) as any).toMatchObject({ value: 1 })
    expect(await client.waitFor((f) => f.type === "error")).toMatchObject({
      code: "unknown_request",
      req_id: frame.req_id
    })
    client.close()
  })

  it("a frame over 1 MiB closes the socket with 1009", async () => {
    const { sid, token } = await login(server)
    const client = await connect(server, sid, token)
    client.send({ type: "answer", req_id: "x", value: "y".repeat(1024 * 1024 + 16) })
    expect((await client.closed).code).toBe(1009)
    // the session is detached, not gone
    const info = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(info.status).toBe(200)
    await sleep(50)
    const again = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(again.json.connected).toBe(false)
  })
})

describe("attach, replace, teardown", () => {
  it("a request sent while disconnected is delivered on connect and again, marked, on reconnect", async () => {
    const { sid, token } = await login(server)
    const pending = await ask(sid, { n: 1 })
    const first = await connect(server, sid, token)
    const delivered = await first.waitFor((f) => f.type === "ask")
    expect(delivered.question).toEqual({ n: 1 })
    first.close()
    await first.closed

    const info = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(info.json.pending).toHaveLength(1)
    expect(info.json.pending[0]).toMatchObject({ req_id: delivered.req_id, type: "ask" })
    expect(info.json.pending[0].age_ms).toBeGreaterThanOrEqual(0)

    const second = await connect(server, sid, token)
    const again = await second.waitFor((f) => f.type === "ask")
    expect(again).toMatchObject({ req_id: delivered.req_id, redelivery: true })
    second.send({ type: "answer", req_id: again.req_id, value: "done" })
    expect((await pending.reply()) as any).toMatchObject({ value: "done" })
    second.close()
  })

  it("a second socket replaces the first: the first is closed with 4000; replies in flight still count", async () => {
    const { sid, token } = await login(server)
    const first = await connect(server, sid, token)
    const pending = await ask(sid, "who answers?")
    const frame = await first.waitFor((f) => f.type === "ask")
    // the reply leaves on the old socket just before the new one attaches
    first.send({ type: "answer", req_id: frame.req_id, value: "old socket" })
    const second = await connect(server, sid, token)
    const closed = await first.closed
    expect(closed).toEqual({ code: 4000, reason: "replaced by a newer connection" })
    expect((await pending.reply()) as any).toMatchObject({ value: "old socket" })

    // the newer socket is the destination now
    const next = await ask(sid, "second")
    const onSecond = await second.waitFor((f) => f.type === "ask" && f.question === "second")
    second.send({ type: "answer", req_id: onSecond.req_id, value: 2 })
    expect((await next.reply()) as any).toMatchObject({ value: 2 })
    const status = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(status.json.connected).toBe(true)
    second.close()
  })

  it("DELETE closes the socket with 1000 'operator session torn down', fails pending calls, and info is 404", async () => {
    const { sid, token } = await login(server)
    const client = await connect(server, sid, token)
    const pending = await ask(sid, "never answered")
    await client.waitFor((f) => f.type === "ask")
    const deleted = await request(server, "DELETE", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(deleted.status).toBe(204)
    expect(await client.closed).toEqual({ code: 1000, reason: "operator session torn down" })
    await expect(pending.reply()).rejects.toThrow(/torn down/)
    const info = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(info.status).toBe(404)
    const reconnect = await refusedUpgrade(server, `/v1/operators/${sid}/ws`, bearer(token))
    expect(reconnect.status).toBe(404)
  })

  it("status counts connected sessions and pending requests", async () => {
    const { sid, token } = await login(server)
    const before = (await request(server, "GET", "/v1/status")).json
    const client = await connect(server, sid, token)
    const pending = await ask(sid, "count me")
    await client.waitFor((f) => f.type === "ask")
    const during = (await request(server, "GET", "/v1/status")).json
    expect(during.connected_sessions).toBe(before.connected_sessions + 1)
    expect(during.pending_requests).toBe(before.pending_requests + 1)
    await Effect.runPromise(Fiber.interrupt(pending.fiber))
    client.close()
  })
})

describe("keepalive on a real socket (short timings)", () => {
  let fast: TestServer
  beforeAll(async () => {
    fast = await startServer({ keepalive: { pingEvery: "50 millis", silentAfter: "300 millis" } })
  })
  afterAll(() => fast.close())

  it("a peer that answers pings stays; one that does not is cut and detached", async () => {
    const lively = await login(fast)
    const silent = await login(fast)
    const alive = await connect(fast, lively.sid, lively.token)
    const mute = await connect(fast, silent.sid, silent.token, { autoPong: false })
    let pings = 0
    mute.ws.on("ping", () => pings++)

    const cut = await mute.closed
    expect(cut.code).toBe(1006)
    expect(pings).toBeGreaterThanOrEqual(3)
    const info = await request(fast, "GET", `/v1/operators/${silent.sid}`, { headers: bearer(silent.token) })
    expect(info.status).toBe(200)
    expect(info.json.connected).toBe(false)

    expect(alive.ws.readyState).toBe(alive.ws.OPEN)
    const still = await request(fast, "GET", `/v1/operators/${lively.sid}`, { headers: bearer(lively.token) })
    expect(still.json.connected).toBe(true)
    alive.close()
  })
})
