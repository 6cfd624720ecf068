/**
 * Seats (blueprint.md `operators`, http-api.md acquire): an empty seat waits for an operator;
 * `acquire` seats a session, and taking over a held seat withdraws the previous holder's
 * pending requests (`cancel`) and re-sends them to the new holder. Also `senior_escalation`,
 * which asks the seat's session to rescue a blocked step.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const acquire = (runId: string, who: ScriptedOperator, slot?: string) =>
  request(server, "POST", `/v1/runs/${runId}/acquire`, {
    headers: { ...bearer(who.token), "content-type": "application/json" },
    body: JSON.stringify({ sid: who.sid, ...(slot === undefined ? {} : { slot }) })
  })

describe("seats", () => {
  it("an empty seat waits (waiting_for_operator) until a session acquires it", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: { request: "seat me" } })
    const deadline = Date.now() + 3000
    let run = await awaitRun(server, launched.run_id, { until: () => true })
    while (!run.steps?.some((s: any) => s.status === "waiting_for_operator") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
      run = await awaitRun(server, launched.run_id, { until: () => true })
    }
    expect(run.status).toBe("running")
    expect(run.steps.map((s: any) => s.status)).toEqual(["waiting_for_operator"])
    expect(op.ofType("spawn")).toEqual([])

    const acquired = await acquire(launched.run_id, op, "lead")
    expect(acquired.status, acquired.text).toBe(200)
    expect(acquired.json.slot).toBe("lead")
    expect(Number.isInteger(acquired.json.generation)).toBe(true)
    expect(acquired.json.previous).toBeUndefined()
    expect(acquired.text).not.toContain(op.token)

    const spawn = await op.waitType("spawn", { where: (f) => f.run_id === launched.run_id })
    expect((await submit(server, spawn.worker_handle, "seated")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const done = await awaitRun(server, launched.run_id)
    expect(done.status).toBe("done")
    expect(done.result.answer).toBe("seated")
    await op.close()
  })

  it("acquire without slot takes the blueprint's only seat", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: {} })
    const acquired = await acquire(launched.run_id, op)
    expect(acquired.status, acquired.text).toBe(200)
    expect(acquired.json.slot).toBe("lead")
    await op.waitType("spawn", { where: (f) => f.run_id === launched.run_id })
    expect((await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
    await op.close()
  })

  it("taking over a held seat withdraws A's pending spawn (cancel) and re-sends it to B", async () => {
    const A = await ScriptedOperator.login(server, { desc: "A" })
    const B = await ScriptedOperator.login(server, { desc: "B" })
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: { request: "take over" }, operator_sid: A.sid })
    const first = await A.waitType("spawn")
    const markA = A.mark()

    const taken = await acquire(launched.run_id, B, "lead")
    expect(taken.status, taken.text).toBe(200)
    expect(taken.json.slot).toBe("lead")
    expect(taken.json.previous).toBeDefined()
    expect(JSON.stringify(taken.json)).not.toContain(A.token)
    expect(JSON.stringify(taken.json)).not.toContain(B.token)

    const cancel = await A.waitType("cancel", { from: markA })
    expect(cancel.req_id).toBe(first.req_id)
    expect(typeof cancel.reason).toBe("string")
    expect(cancel.reason).not.toBe("run_cancelled")

    const resent = await B.waitType("spawn")
    expect(resent.req_id).toMatch(new RegExp(`^${B.sid}-spawn-`))
    expect(resent).toMatchObject({ task_id: first.task_id, run_id: launched.run_id, agent: "worker" })

    // A's late reply is refused; B finishes the step
    const markA2 = A.mark()
    A.spawnAck(first.req_id)
    expect(await A.waitType("error", { from: markA2 })).toMatchObject({ code: "unknown_request", req_id: first.req_id })
    expect((await submit(server, resent.worker_handle, "by B")).status).toBe(200)
    B.spawnAck(resent.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toBe("by B")
    expect(run.steps.map((s: any) => s.status)).toEqual(["passed"])
    await A.close()
    await B.close()
  })

  it("acquire on a finished run is 409; an unknown run is 404", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    await op.waitType("spawn", { where: (f) => f.run_id === launched.run_id })
    expect((await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
    await awaitRun(server, launched.run_id)
    const finished = await acquire(launched.run_id, op, "lead")
    expect(finished.status, finished.text).toBe(409)
    envelopeCode(finished)
    const unknown = await acquire(`R-${"0".repeat(16)}`, op, "lead")
    expect(unknown.status, unknown.text).toBe(404)
    envelopeCode(unknown)
    await op.close()
  })
})

describe("senior_escalation", () => {
  it("a blocked step asks the seat's session; the answer passes the step as {original, answer}", async () => {
    const op = await ScriptedOperator.login(server)
    const bp = { ...oneStepBlueprint(), middleware: ["senior_escalation"] }
    const launched = await launch(server, { blueprint: bp, input: { request: "hard" }, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")
    op.spawnAck(spawn.req_id, { ok: false, value: { stuck: true } })
    const ask = await op.waitType("ask")
    expect(ask.question).toEqual({ reason: "worker reported ok=false", step: "worker", value: { stuck: true } })
    expect(ask.task_id).toBe(spawn.task_id)
    op.answer(ask.req_id, "try the other branch")
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toEqual({ original: { stuck: true }, answer: "try the other branch" })
    await op.close()
  })

  it("if the escalation ask fails (wrong reply type), the step stays blocked", async () => {
    const op = await ScriptedOperator.login(server)
    const bp = { ...oneStepBlueprint(), middleware: ["senior_escalation"] }
    const launched = await launch(server, { blueprint: bp, input: {}, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")
    op.spawnAck(spawn.req_id, { ok: false, value: "bad" })
    const ask = await op.waitType("ask")
    op.hookAck(ask.req_id, true)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.steps[0].status).toBe("blocked")
    expect(run.error.step_value).toBe("bad")
    await op.close()
  })
})
