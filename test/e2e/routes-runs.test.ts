/** Route-level tests of /v1/runs (http-api.md, Tasks and runs). */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, connect, envelopeCode, jsonBody, login, request, startServer, type TestServer } from "./helpers.js"
import {
  launch,
  operatorBlueprint,
  readSse,
  sleepBlueprint,
  twoStepBlueprint,
  UNKNOWN_RUN,
  UNKNOWN_SID,
  waitRun
} from "./routes-fixtures.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const finishedRun = async (input: unknown = { a: 1 }) => {
  const reply = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: twoStepBlueprint(), input, wait: true }))
  if (reply.status !== 200) throw new Error(reply.text)
  return reply.json
}

describe("GET /v1/runs", () => {
  it("newest first; ?status= filters; ?limit= caps", async () => {
    const done1 = await finishedRun()
    const sleeping = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 60_000 } } })
    const done2 = await finishedRun()

    const all = await request(server, "GET", "/v1/runs")
    expect(all.status).toBe(200)
    const ids = all.json.runs.map((r: any) => r.run_id)
    expect(ids.slice(0, 3)).toEqual([done2.run_id, sleeping.run_id, done1.run_id])
    // list entries are summaries: no steps
    expect(all.json.runs[0].steps).toBeUndefined()
    expect(all.json.runs[0]).toMatchObject({ run_id: done2.run_id, task_id: done2.task_id, status: "done" })

    const running = await request(server, "GET", "/v1/runs?status=running")
    expect(running.json.runs.map((r: any) => r.run_id)).toContain(sleeping.run_id)
    expect(running.json.runs.every((r: any) => r.status === "running")).toBe(true)
    const done = await request(server, "GET", "/v1/runs?status=done&limit=2")
    expect(done.json.runs.map((r: any) => r.run_id)).toEqual([done2.run_id, done1.run_id])
    const one = await request(server, "GET", "/v1/runs?limit=1")
    expect(one.json.runs.map((r: any) => r.run_id)).toEqual([done2.run_id])
    // empty parameters mean "not given"
    expect((await request(server, "GET", "/v1/runs?status=&limit=")).json.runs.length).toBe(ids.length)

    expect((await request(server, "POST", `/v1/runs/${sleeping.run_id}/cancel`)).status).toBe(202)
  })

  it("a bad status or limit is 400 naming the parameter", async () => {
    for (const query of ["status=sideways", "status=DONE", "limit=many", "limit=0", "limit=1001", "limit=2.5"]) {
      const reply = await request(server, "GET", `/v1/runs?${query}`)
      expect(reply.status, query).toBe(400)
      expect(envelopeCode(reply)).toBe("invalid_request")
      expect(reply.json.error.message).toContain(`\`${query.split("=")[0]}\``)
    }
  })
})

describe("GET /v1/runs/:id", () => {
  it("the run with its steps and seats; unknown is 404", async () => {
    const run = await finishedRun({ a: "x" })
    const reply = await request(server, "GET", `/v1/runs/${run.run_id}`)
    expect(reply.status).toBe(200)
    expect(reply.json).toEqual({
      run_id: run.run_id,
      task_id: run.task_id,
      status: "done",
      created_at: expect.any(String),
      finished_at: expect.any(String),
      input: { a: "x" },
      result: { a: "x", b: "x", c: "x" },
      seats: {},
      steps: [
        expect.objectContaining({ ref: "id", attempt: 1, location: "$.flow.children[0]", status: "passed", value: "x" }),
        expect.objectContaining({ ref: "id", attempt: 1, location: "$.flow.children[1]", status: "passed", value: "x" })
      ]
    })
    for (const step of reply.json.steps) {
      expect(step.step_id).toMatch(/^ST-[0-9a-f]{16}$/)
      expect(Object.keys(step).sort()).toEqual(["attempt", "finished_at", "location", "ref", "started_at", "status", "step_id", "value"])
    }
    const unknown = await request(server, "GET", `/v1/runs/${UNKNOWN_RUN}`)
    expect(unknown.status).toBe(404)
    expect(envelopeCode(unknown)).toBe("unknown_run")
    expect(unknown.json.error.message).toContain(UNKNOWN_RUN)
  })
})

describe("GET /v1/runs/:id/events", () => {
  it("a finished run: text/event-stream, every event replayed in order, then the stream ends", async () => {
    const run = await finishedRun()
    const sse = await readSse(server, run.run_id)
    expect(sse.status).toBe(200)
    expect(sse.contentType).toMatch(/^text\/event-stream/)
    expect(sse.events.map((e) => e.event)).toEqual([
      "run_started",
      "step_started",
      "step_finished",
      "step_started",
      "step_finished",
      "run_finished"
    ])
    expect(sse.events.map((e) => e.id)).toEqual(["1", "2", "3", "4", "5", "6"])
    for (const e of sse.events) {
      expect(e.data.type).toBe(e.event)
      expect(String(e.data.seq)).toBe(e.id)
      expect(e.data.run_id).toBe(run.run_id)
    }
    expect(sse.events[2]!.data).toMatchObject({ ref: "id", status: "passed" })
    expect(sse.events[5]!.data).toMatchObject({ status: "done" })
    // the wire format exactly: event, id, data, blank line
    const first = sse.text.slice(sse.text.indexOf("event:"))
    expect(first).toMatch(/^event: run_started\nid: 1\ndata: \{.*\}\n\n/)
  })

  it("Last-Event-ID replays only what came after it", async () => {
    const run = await finishedRun()
    const sse = await readSse(server, run.run_id, { "last-event-id": "4" })
    expect(sse.events.map((e) => [e.id, e.event])).toEqual([["5", "step_finished"], ["6", "run_finished"]])
  })

  it("a running run: past events first, then live ones, ending after run_finished", async () => {
    const { run_id } = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 400 } } })
    await waitRun(server, run_id, (r) => r.steps.length === 1)
    const sse = await readSse(server, run_id)
    expect(sse.events.map((e) => e.event)).toEqual(["run_started", "step_started", "step_finished", "run_finished"])
    expect(sse.events.map((e) => Number(e.id))).toEqual([1, 2, 3, 4])
  })

  it("a cancelled run's stream ends with run_finished cancelled; unknown run is 404 JSON", async () => {
    const { run_id } = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 60_000 } } })
    await waitRun(server, run_id, (r) => r.steps.length === 1)
    const pending = readSse(server, run_id)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect((await request(server, "POST", `/v1/runs/${run_id}/cancel`)).status).toBe(202)
    const sse = await pending
    expect(sse.events.at(-1)).toMatchObject({ event: "run_finished", data: { status: "cancelled" } })
    const unknown = await request(server, "GET", `/v1/runs/${UNKNOWN_RUN}/events`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get("content-type")).toMatch(/json/)
    expect(envelopeCode(unknown)).toBe("unknown_run")
  })
})

describe("POST /v1/runs/:id/cancel", () => {
  it("202, the run and its in-flight step become cancelled; again is 409; unknown is 404", async () => {
    const { run_id } = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 60_000 } } })
    await waitRun(server, run_id, (r) => r.steps.length === 1)
    const reply = await request(server, "POST", `/v1/runs/${run_id}/cancel`)
    expect(reply.status, reply.text).toBe(202)
    expect(reply.json).toEqual({ run_id, status: "cancelled" })
    const run = await request(server, "GET", `/v1/runs/${run_id}`)
    expect(run.json.status).toBe("cancelled")
    expect(run.json.finished_at).toBeDefined()
    expect(run.json.steps.map((s: any) => s.status)).toEqual(["cancelled"])
    const again = await request(server, "POST", `/v1/runs/${run_id}/cancel`)
    expect(again.status).toBe(409)
    expect(envelopeCode(again)).toBe("run_finished")
    expect(again.json.error.message).toContain("cancelled")
    const unknown = await request(server, "POST", `/v1/runs/${UNKNOWN_RUN}/cancel`)
    expect(unknown.status).toBe(404)
    expect(envelopeCode(unknown)).toBe("unknown_run")
  })

  it("withdraws the run's pending operator request with a cancel frame", async () => {
    const { sid, token } = await login(server)
    const client = await connect(server, sid, token)
    const { run_id } = await launch(server, { blueprint: operatorBlueprint(), input: { task: "t" }, operator_sid: sid })
    const spawn = await client.waitFor((f) => f.type === "spawn" && f.run_id === run_id)
    expect((await request(server, "POST", `/v1/runs/${run_id}/cancel`)).status).toBe(202)
    const cancel = await client.waitFor((f) => f.type === "cancel" && f.req_id === spawn.req_id)
    expect(cancel.reason).toBe("run_cancelled")
    client.close()
  })
})

describe("POST /v1/runs/:id/resume", () => {
  it("409 for a run that is not interrupted (running or finished); 404 for an unknown one", async () => {
    const done = await finishedRun()
    const finished = await request(server, "POST", `/v1/runs/${done.run_id}/resume`)
    expect(finished.status).toBe(409)
    expect(envelopeCode(finished)).toBe("not_interrupted")
    expect(finished.json.error.message).toContain("done")
    const { run_id } = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 60_000 } } })
    const running = await request(server, "POST", `/v1/runs/${run_id}/resume`)
    expect(running.status).toBe(409)
    expect(running.json.error.message).toContain("running")
    await request(server, "POST", `/v1/runs/${run_id}/cancel`)
    const unknown = await request(server, "POST", `/v1/runs/${UNKNOWN_RUN}/resume`)
    expect(unknown.status).toBe(404)
  })
})

describe("POST /v1/runs/:id/acquire", () => {
  const acquire = (runId: string, token: string | undefined, body: unknown) =>
    request(server, "POST", `/v1/runs/${runId}/acquire`, {
      headers: { "content-type": "application/json", ...(token === undefined ? {} : bearer(token)) },
      body: JSON.stringify(body)
    })

  it("seats a session; a second session takes over and the first one's request moves to it", async () => {
    const a = await login(server, "first")
    const b = await login(server, "second")
    const clientA = await connect(server, a.sid, a.token)
    const clientB = await connect(server, b.sid, b.token)
    const { run_id } = await launch(server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    await waitRun(server, run_id, (r) => r.steps[0]?.status === "waiting_for_operator")

    const first = await acquire(run_id, a.token, { sid: a.sid })
    expect(first.status, first.text).toBe(200)
    expect(first.json).toEqual({ slot: "main", generation: 1 })
    const spawnA = await clientA.waitFor((f) => f.type === "spawn" && f.run_id === run_id)

    const second = await acquire(run_id, b.token, { sid: b.sid, slot: "main" })
    expect(second.status, second.text).toBe(200)
    expect(second.json).toEqual({ slot: "main", generation: 2, previous: { sid: a.sid, generation: 1 } })
    const withdrawn = await clientA.waitFor((f) => f.type === "cancel" && f.req_id === spawnA.req_id)
    expect(withdrawn.reason).toBe("seat_taken_over")
    const spawnB = await clientB.waitFor((f) => f.type === "spawn" && f.run_id === run_id)
    expect(spawnB.task_id).toBe(spawnA.task_id)
    const run = await request(server, "GET", `/v1/runs/${run_id}`)
    expect(run.json.seats).toEqual({ main: { sid: b.sid, generation: 2 } })

    await request(server, "POST", `/v1/runs/${run_id}/cancel`)
    clientA.close()
    clientB.close()
  })

  it("credential 401s, unknown sid/run/seat 404s, bad body 400, finished run 409", async () => {
    const a = await login(server)
    const b = await login(server)
    const { run_id } = await launch(server, { blueprint: operatorBlueprint(), input: { task: "t" } })

    const missing = await acquire(run_id, undefined, { sid: a.sid })
    expect(missing.status).toBe(401)
    expect(envelopeCode(missing)).toBe("missing_credential")
    const malformed = await request(server, "POST", `/v1/runs/${run_id}/acquire`, {
      headers: { "content-type": "application/json", authorization: `Token ${a.token}` },
      body: JSON.stringify({ sid: a.sid })
    })
    expect(malformed.status).toBe(401)
    expect(envelopeCode(malformed)).toBe("malformed_credential")
    // another session's token is not this session's credential: seating is that session's act (403)
    const wrong = await acquire(run_id, b.token, { sid: a.sid })
    expect(wrong.status).toBe(403)
    expect(envelopeCode(wrong)).toBe("not_your_session")
    expect(wrong.text).not.toContain(a.token)
    expect(wrong.text).not.toContain(b.token)

    const noSid = await acquire(run_id, a.token, { sid: UNKNOWN_SID })
    expect(noSid.status).toBe(404)
    expect(envelopeCode(noSid)).toBe("unknown_session")
    const noRun = await acquire(UNKNOWN_RUN, a.token, { sid: a.sid })
    expect(noRun.status).toBe(404)
    expect(envelopeCode(noRun)).toBe("unknown_run")
    const noSeat = await acquire(run_id, a.token, { sid: a.sid, slot: "nowhere" })
    expect(noSeat.status).toBe(404)
    expect(envelopeCode(noSeat)).toBe("unknown_seat")
    expect(noSeat.json.error.message).toContain("main")

    const noSidField = await acquire(run_id, a.token, { slot: "main" })
    expect(noSidField.status).toBe(400)
    expect(noSidField.json.error.message).toMatch(/`sid`/)
    const extra = await acquire(run_id, a.token, { sid: a.sid, seat: "main" })
    expect(extra.status).toBe(400)
    expect(extra.json.error.message).toMatch(/`seat`/)

    await request(server, "POST", `/v1/runs/${run_id}/cancel`)
    const finished = await acquire(run_id, a.token, { sid: a.sid })
    expect(finished.status).toBe(409)
    expect(envelopeCode(finished)).toBe("run_finished")
  })

  it("a run whose blueprint declares no seats has nothing to acquire (404)", async () => {
    const a = await login(server)
    const { run_id } = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 60_000 } } })
    const reply = await acquire(run_id, a.token, { sid: a.sid })
    expect(reply.status).toBe(404)
    expect(envelopeCode(reply)).toBe("unknown_seat")
    await request(server, "POST", `/v1/runs/${run_id}/cancel`)
  })
})

