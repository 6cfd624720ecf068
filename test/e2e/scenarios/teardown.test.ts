/**
 * Scenario 3 (protocol.md §5): `DELETE /v1/operators/:sid` while a spawn is pending closes the
 * socket with 1000, fails the waiting step (and so the run) naming the session, and the sid
 * is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator, withTimeout } from "./operator-client.js"
import { fetchPrompt, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

describe("scenario 3: teardown with a pending request", () => {
  it("closes the socket 1000, vacates the session's seat (the step waits for a new holder), and forgets the sid", async () => {
    const op = await ScriptedOperator.login(server, { desc: "teardown" })
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-teardown" }),
      input: { request: "never finished" },
      operator_sid: op.sid
    })
    const spawn = await op.waitType("spawn")
    // the sub-agent may already be working
    expect((await fetchPrompt(server, spawn.worker_handle, spawn.task_id)).status).toBe(200)

    const deleted = await request(server, "DELETE", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(deleted.status, deleted.text).toBe(204)
    expect(deleted.text).toBe("")

    expect(await withTimeout(op.closed(), 5000, "socket not closed after teardown")).toEqual({
      code: 1000,
      reason: "operator session torn down"
    })

    const run = await awaitRun(server, launched.run_id, {
      until: () => true
    })
    expect(run.status, JSON.stringify(run)).toBe("running")
    expect(run.seats).toEqual({ lead: null })
    // the token never leaks into the run record
    expect(JSON.stringify(run)).not.toContain(op.token)

    const gone = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(gone.status).toBe(404)
    expect(envelopeCode(gone)).toBe("unknown_session")

    // the sub-agent's late submit changes nothing: its seat generation is gone
    const late = await submit(server, spawn.worker_handle, "late")
    expect(late.status).toBe(409)
    expect(envelopeCode(late)).toBe("superseded")

    // the same token cannot attach a socket any more
    await expect(op.connect()).rejects.toThrow(/HTTP 404/)

    // tearing down twice is harmless (the sid is unknown now: 404, never 500)
    const again = await request(server, "DELETE", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(again.status).toBe(404)
    envelopeCode(again)
    expect((await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
  })

  it("a run launched for a torn-down session is refused with 404", async () => {
    const op = await ScriptedOperator.login(server, { connect: false })
    expect((await request(server, "DELETE", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })).status).toBe(204)
    const reply = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    })
    expect(reply.status, reply.text).toBe(404)
    envelopeCode(reply)
  })
})

describe("idle expiry of a disconnected session with a pending request (protocol.md §7)", () => {
  let idle: TestServer
  beforeAll(async () => {
    idle = await startServer({ idle: { horizon: "300 millis", sweepEvery: "100 millis" } })
  })
  afterAll(() => idle.close())

  it("an attached session never expires; once detached it is torn down and its seat vacated", async () => {
    const op = await ScriptedOperator.login(idle)
    const launched = await launch(idle, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")
    // attached: well past the horizon, still alive
    await new Promise((r) => setTimeout(r, 700))
    expect((await request(idle, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })).status).toBe(200)
    expect((await awaitRun(idle, launched.run_id, { until: () => true })).status).toBe("running")

    await op.drop()
    const run = await awaitRun(idle, launched.run_id, {
      until: () => true
    })
    const deadline = Date.now() + 5000
    let now = run
    while (now.seats.lead !== null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      now = await awaitRun(idle, launched.run_id, { until: () => true })
    }
    expect(now.status, JSON.stringify(now)).toBe("running")
    expect(now.seats).toEqual({ lead: null })
    const gone = await request(idle, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(gone.status).toBe(404)
    envelopeCode(gone)
    await expect(op.connect()).rejects.toThrow(/HTTP 404/)
    expect((await submit(idle, spawn.worker_handle, "late")).status).toBe(409)
    expect((await request(idle, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
  })
})
