/**
 * Issue 8, runs and worker results, over real sockets: `wait: true` never hangs, a re-run
 * reuses the task's input, events carry what a follower needs, the first submit closes a
 * step, `ok=false` blocks, an empty ack without a submit is `no_result`, empty stats go.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { envelopeCode, jsonBody, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, oneStepBlueprint, readEvents, ScriptedOperator, sseType } from "./operator-client.js"
import { artifact, submit, workerAsk } from "./sub-agent.js"
import { launchAs } from "./seating.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const builtinBlueprint = () => ({
  agents: [{ name: "echo", kind: "builtin", fn: "identity" }],
  flow: { kind: "step", ref: "echo", in: { op: "path", at: "$" }, out: "$.echoed" }
})

describe("runs (issue 8)", () => {
  it("wait:true on a run that needs an operator with none seated is 409 needs_operator at once, nothing created", async () => {
    const before = (await request(server, "GET", "/v1/tasks")).json.tasks.length
    const reply = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: oneStepBlueprint(), wait: true }))
    expect(reply.status, reply.text).toBe(409)
    expect(envelopeCode(reply)).toBe("needs_operator")
    expect((await request(server, "GET", "/v1/tasks")).json.tasks.length).toBe(before)
  })

  it("wait:true past wait_ms is 504 wait_timeout with the run_id; the run goes on", async () => {
    const op = await ScriptedOperator.login(server)
    const reply = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json", authorization: `Bearer ${op.token}` },
      body: JSON.stringify({ blueprint: oneStepBlueprint(), input: { q: 1 }, operator_sid: op.sid, wait: true, wait_ms: 150 })
    })
    expect(reply.status, reply.text).toBe(504)
    expect(envelopeCode(reply)).toBe("wait_timeout")
    const runId = reply.json.error.details.run_id
    expect(typeof runId).toBe("string")
    const spawn = await op.waitType("spawn", { where: (f) => f.run_id === runId })
    expect((await submit(server, spawn.worker_handle, "later")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, runId)
    expect(run.status).toBe("done")
    expect(run.result.answer).toBe("later")
    await op.close()
  })

  it("POST /v1/tasks/:id/runs without input reuses the task's original input", async () => {
    const first = await launchAs(server, { blueprint: builtinBlueprint(), input: { request: "original" } })
    await awaitRun(server, first.run_id)
    const again = await request(server, "POST", `/v1/tasks/${first.task_id}/runs`, jsonBody({}))
    expect(again.status, again.text).toBe(202)
    const run = await awaitRun(server, again.json.run_id)
    expect(run.input).toEqual({ request: "original" })
    expect(run.result.echoed).toEqual({ request: "original" })
  })

  it("events: steps carry status/ref/attempt, run_finished status and error; a failed worker ask is answered with the failure", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: {} }, op)
    const spawn = await op.waitType("spawn")
    const asking = workerAsk(server, spawn.worker_handle, "which way?")
    const ask = await op.waitType("ask")
    op.hookAck(ask.req_id, true) // the wrong reply type: the ask fails
    expect((await asking).status).toBe(409)
    expect((await submit(server, spawn.worker_handle, "stuck", { verdict: "blocked" })).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const read = await readEvents(server, launched.run_id)
    const events = read.events.map((e) => e.data)
    const answered = events.filter((e) => e.type === "request_answered" && e.kind === "ask")
    expect(answered).toHaveLength(1)
    expect(answered[0]).toMatchObject({ status: "error", req_id: ask.req_id, sid: op.sid })
    const finishedStep = events.find((e) => e.type === "step_finished")
    expect(finishedStep).toMatchObject({ ref: "worker", attempt: 1, status: "blocked" })
    const end = read.events.find((e) => sseType(e) === "run_finished")?.data
    expect(end).toMatchObject({ status: "failed", error: { failed_step: "worker" } })
    expect(typeof end.error.message).toBe("string")
    await op.close()
  })
})

describe("worker results (issue 8)", () => {
  it("the first submit closes the submission: a second is 409 already_submitted, so are artifacts; the record says the submit won", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: {} }, op)
    const spawn = await op.waitType("spawn")
    expect((await submit(server, spawn.worker_handle, "first")).status).toBe(200)
    const second = await submit(server, spawn.worker_handle, "second")
    expect(second.status, second.text).toBe(409)
    expect(envelopeCode(second)).toBe("already_submitted")
    const part = await artifact(server, spawn.worker_handle, "late", "x")
    expect(part.status, part.text).toBe(409)
    expect(envelopeCode(part)).toBe("already_submitted")
    op.spawnAck(spawn.req_id, { value: "the ack's own value", ok: true })
    const run = await awaitRun(server, launched.run_id)
    expect(run.result.answer).toBe("first")
    const rec = await server.run(server.steps!.get(run.steps[0].step_id))
    expect(rec._tag === "Some" && rec.value.value_source).toBe("submit")
    await op.close()
  })

  it("submit?ok=false means verdict=blocked", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: {} }, op)
    const spawn = await op.waitType("spawn")
    const r = await request(server, "POST", "/v1/worker/submit?ok=false", {
      headers: { "content-type": "text/plain", authorization: `Bearer ${spawn.worker_handle}` },
      body: "could not do it"
    })
    expect(r.status, r.text).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.steps[0].status).toBe("blocked")
    expect(run.steps[0].value).toBe("could not do it")
    await op.close()
  })

  it("spawn_ack ok:true with an empty value and nothing submitted fails the step with no_result", async () => {
    for (const empty of [null, {}, ""]) {
      const op = await ScriptedOperator.login(server)
      const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: {} }, op)
      const spawn = await op.waitType("spawn")
      op.spawnAck(spawn.req_id, { value: empty, ok: true })
      const run = await awaitRun(server, launched.run_id)
      expect(run.status, JSON.stringify(empty)).toBe("failed")
      expect(run.steps[0].status).toBe("failed")
      expect(run.steps[0].error).toContain("no_result")
      expect(run.steps[0].error).toContain("the sub-agent submitted nothing")
      await op.close()
    }
  })

  it("an empty stats object is dropped, a non-empty one kept", async () => {
    const op = await ScriptedOperator.login(server)
    for (const [stats, expected] of [[{}, undefined], [{ tokens: 3 }, { tokens: 3 }]] as const) {
      const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: {} }, op)
      const spawn = await op.waitType("spawn", { where: (f) => f.run_id === launched.run_id })
      expect((await submit(server, spawn.worker_handle, "v")).status).toBe(200)
      op.spawnAck(spawn.req_id, { stats })
      const run = await awaitRun(server, launched.run_id)
      expect(run.status).toBe("done")
      expect(run.steps[0].stats).toEqual(expected)
      expect("stats" in run.steps[0]).toBe(expected !== undefined)
    }
    await op.close()
  })
})
