/**
 * Issue 8, seats and take-over, over real sockets: re-acquiring one's own seat re-sends the
 * pending spawn; credentials from before a take-over are `superseded`; `acquire` needs a slot
 * when there are several seats; tearing a session down vacates its seats.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { jsonAs, launchAs } from "./seating.js"
import { artifact, emit, fetchPrompt, postResult, submit, workerAsk } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const acquire = (runId: string, who: ScriptedOperator, slot?: string) =>
  request(server, "POST", `/v1/runs/${runId}/acquire`, {
    headers: jsonAs(who),
    body: JSON.stringify({ sid: who.sid, ...(slot === undefined ? {} : { slot }) })
  })

const twoSeats = () => ({
  operators: [{ name: "lead" }, { name: "review" }],
  agents: [
    { name: "worker", kind: "operator", operator: "lead" },
    { name: "checker", kind: "operator", operator: "review" }
  ],
  flow: { kind: "step", ref: "worker", in: { op: "path", at: "$" }, out: "$.answer" }
})

const stepStatuses = async (runId: string) => (await awaitRun(server, runId, { until: () => true })).steps.map((s: any) => s.status)

const until = async (what: string, pred: () => Promise<boolean>) => {
  const deadline = Date.now() + 5000
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("seats and take-over (issue 8)", () => {
  it("re-acquiring one's own seat with a spawn pending withdraws it (seat_taken_over) and re-sends it with a new req_id", async () => {
    const A = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: { request: "again" } }, A)
    const first = await A.waitType("spawn")
    const mark = A.mark()
    const again = await acquire(launched.run_id, A, "lead")
    expect(again.status, again.text).toBe(200)
    expect(again.json.generation).toBe(2)
    expect(again.json.previous).toMatchObject({ sid: A.sid, generation: 1 })
    const cancel = await A.waitType("cancel", { from: mark })
    expect(cancel).toMatchObject({ req_id: first.req_id, reason: "seat_taken_over" })
    const resent = await A.waitType("spawn", { from: mark })
    expect(resent.req_id).not.toBe(first.req_id)
    expect(resent.task_id).toBe(first.task_id)
    // a reply to the withdrawn request is not the step's result
    const late = A.mark()
    A.spawnAck(first.req_id, { value: "stale", ok: true })
    expect(await A.waitType("error", { from: late })).toMatchObject({ code: "unknown_request", req_id: first.req_id })
    expect((await submit(server, resent.worker_handle, "fresh")).status).toBe(200)
    A.spawnAck(resent.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toBe("fresh")
    await A.close()
  })

  it("a credential minted before a take-over is 409 superseded on every worker route; the re-sent spawn has a new handle and token", async () => {
    const A = await ScriptedOperator.login(server, { desc: "A" })
    const B = await ScriptedOperator.login(server, { desc: "B" })
    const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: { request: "x" } }, A)
    const old = await A.waitType("spawn")
    expect((await fetchPrompt(server, old.worker_handle)).status).toBe(200)
    expect((await acquire(launched.run_id, B, "lead")).status).toBe(200)
    const resent = await B.waitType("spawn")
    expect(resent.worker_handle).not.toBe(old.worker_handle)
    expect(resent.capability_token).not.toBe(old.capability_token)
    for (const credential of [old.worker_handle, old.capability_token]) {
      const replies = [
        await fetchPrompt(server, credential),
        await submit(server, credential, "from the displaced sub-agent"),
        await postResult(server, credential, "displaced"),
        await artifact(server, credential, "part", "x"),
        await workerAsk(server, credential, "may I?"),
        await emit(server, credential, "out", "bytes")
      ]
      for (const r of replies) {
        expect(r.status, r.text).toBe(409)
        expect(envelopeCode(r)).toBe("superseded")
      }
    }
    expect((await submit(server, resent.worker_handle, "by B")).status).toBe(200)
    B.spawnAck(resent.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.result.answer).toBe("by B")
    await A.close()
    await B.close()
  })

  it("acquire without slot on a run with several seats is 400 listing the seats", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: twoSeats(), input: {} })
    const reply = await acquire(launched.run_id, op)
    expect(reply.status, reply.text).toBe(400)
    expect(envelopeCode(reply)).toBe("slot_required")
    expect(reply.json.error.message).toContain("lead")
    expect(reply.json.error.message).toContain("review")
    expect(reply.json.error.details).toEqual({ seats: ["lead", "review"] })
    // nothing was seated
    expect((await awaitRun(server, launched.run_id, { until: () => true })).seats).toEqual({ lead: null, review: null })
    expect((await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
    await op.close()
  })

  it("tearing a session down vacates its seats (generation counts up); the step waits until someone acquires", async () => {
    const A = await ScriptedOperator.login(server)
    const B = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: oneStepBlueprint(), input: { request: "t" } }, A)
    const first = await A.waitType("spawn")
    const gone = await request(server, "DELETE", `/v1/operators/${A.sid}`, { headers: bearer(A.token) })
    expect(gone.status, gone.text).toBe(204)
    await until("waiting_for_operator", async () => (await stepStatuses(launched.run_id))[0] === "waiting_for_operator")
    const waiting = await awaitRun(server, launched.run_id, { until: () => true })
    expect(waiting.status).toBe("running")
    expect(waiting.seats).toEqual({ lead: null })
    // the torn-down session's sub-agent is displaced
    expect((await submit(server, first.worker_handle, "orphan")).status).toBe(409)
    const taken = await acquire(launched.run_id, B, "lead")
    expect(taken.status, taken.text).toBe(200)
    expect(taken.json.generation).toBe(3)
    expect(taken.json.previous).toBeUndefined()
    const spawn = await B.waitType("spawn")
    expect(spawn.task_id).toBe(first.task_id)
    expect((await submit(server, spawn.worker_handle, "after teardown")).status).toBe(200)
    B.spawnAck(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toBe("after teardown")
    await A.close()
    await B.close()
  })
})
