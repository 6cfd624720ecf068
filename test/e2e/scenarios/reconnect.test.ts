/**
 * Scenario 2 (quality.md R1): the operator's socket dies right after a `spawn` arrives; the
 * operator reconnects with the same token, gets the same request again, answers it once,
 * and the run finishes with no failed step.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, fanoutBlueprint, launch, oneStepBlueprint, readEvents, ScriptedOperator, sseType } from "./operator-client.js"
import { fetchPrompt, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

describe("scenario 2: reconnect mid-request (R1)", () => {
  it("the spawn is redelivered with the same req_id, answered once, and the run finishes done", async () => {
    const op = await ScriptedOperator.login(server, { desc: "reconnect" })
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-reconnect", mainAi: true }),
      input: { request: "survive a drop" },
      operator_sid: op.sid
    })

    const before = await op.waitType("hook_before")
    op.hookAck(before.req_id, true)
    const first = await op.waitType("spawn")
    expect(first.redelivery).toBeUndefined()

    // the network dies before the operator acts on the spawn
    await op.drop()
    // the server noticed: the session is disconnected but the request is still owed
    const deadline = Date.now() + 3000
    let info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    while (info.json?.connected !== false && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
      info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    }
    expect(info.status).toBe(200)
    expect(info.json.connected).toBe(false)
    expect(info.json.pending.map((p: any) => p.req_id)).toEqual([first.req_id])
    expect((await awaitRun(server, launched.run_id, { until: () => true })).status).toBe("running")

    const mark = op.mark()
    await op.connect()
    const again = await op.waitType("spawn", { from: mark })
    expect(again.req_id).toBe(first.req_id)
    expect(again.redelivery).toBe(true)
    expect(again).toMatchObject({ task_id: first.task_id, run_id: first.run_id, agent: "worker", attempt: 1 })
    expect(again.worker_handle).toMatch(/^wh-[a-z0-9]{12}$/)
    // only the owed request came again: the answered hook_before is not redelivered
    expect(op.ofType("hook_before", mark)).toEqual([])

    // the sub-agent works with the (possibly refreshed) credential of the redelivered frame
    const prompt = await fetchPrompt(server, again.worker_handle, again.task_id)
    expect(prompt.status, prompt.text).toBe(200)
    expect(prompt.json.prompt).toEqual({ request: "survive a drop" })
    expect((await submit(server, again.worker_handle, "[\"survived\"]")).status).toBe(200)

    // the operator deduplicates by req_id and answers once
    op.spawnAck(again.req_id)
    const after = await op.waitType("hook_after", { from: mark })
    expect(after.result).toEqual(["survived"])

    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toEqual(["survived"])
    expect(run.steps).toHaveLength(1)
    expect(run.steps.every((s: any) => s.status === "passed" && s.attempt === 1)).toBe(true)

    // answered once: a second reply to the same request is refused as not owed
    const mark2 = op.mark()
    op.spawnAck(again.req_id)
    const refused = await op.waitType("error", { from: mark2 })
    expect(refused).toMatchObject({ code: "unknown_request", req_id: again.req_id })
    expect(op.ws.readyState).toBe(op.ws.OPEN)

    // no step failed anywhere in the event log
    const events = await readEvents(server, launched.run_id)
    const finished = events.events.filter((e) => sseType(e) === "step_finished")
    expect(finished.length).toBeGreaterThanOrEqual(1)
    for (const e of finished) expect(JSON.stringify(e.data)).not.toMatch(/"failed"/)
    expect(events.events.map(sseType).filter((t) => t === "step_started")).toHaveLength(1)

    await op.close()
  })

  it("a newer socket replaces an older one (4000) and receives the pending request redelivered", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-replace" }),
      input: { request: "replace" },
      operator_sid: op.sid
    })
    const first = await op.waitType("spawn")
    const mark = op.mark()
    await op.connect() // second socket while the first is still open
    expect(await op.closed(0)).toEqual({ code: 4000, reason: "replaced by a newer connection" })
    const again = await op.waitType("spawn", { from: mark, where: (f) => f.req_id === first.req_id })
    expect(again.redelivery).toBe(true)
    expect((await submit(server, again.worker_handle, "done")).status).toBe(200)
    op.spawnAck(again.req_id)
    expect((await awaitRun(server, launched.run_id)).status).toBe("done")
    await op.close()
  })

  it("several pending requests are all redelivered, oldest first, each once; a pending hook_before too", async () => {
    const op = await ScriptedOperator.login(server)
    const fan = fanoutBlueprint({ mainAi: true })
    const launched = await launch(server, { blueprint: fan, input: { items: [1, 2, 3] }, operator_sid: op.sid })
    // three hook_befores in flight; approve two, leave the third pending
    const deadline = Date.now() + 5000
    while (op.ofType("hook_before").length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const befores = op.ofType("hook_before")
    expect(befores).toHaveLength(3)
    op.hookAck(befores[0].req_id)
    op.hookAck(befores[1].req_id)
    while (op.ofType("spawn").length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const spawns = op.ofType("spawn")
    expect(spawns).toHaveLength(2)

    // the pending map as the server sees it, oldest first
    const info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    const owed: Array<string> = info.json.pending.map((p: any) => p.req_id)
    expect(new Set(owed)).toEqual(new Set([befores[2].req_id, spawns[0].req_id, spawns[1].req_id]))

    await op.drop()
    const mark = op.mark()
    await op.connect()
    const until = Date.now() + 5000
    while (op.log.length - mark < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
    await new Promise((r) => setTimeout(r, 100)) // nothing more should come
    const redelivered = op.log.slice(mark).map((r) => r.frame)
    expect(redelivered.map((f) => f.req_id)).toEqual(owed)
    expect(redelivered.every((f) => f.redelivery === true)).toBe(true)
    expect(redelivered.filter((f) => f.type === "hook_before")).toHaveLength(1)

    // finish everything once
    op.hookAck(befores[2].req_id)
    const third = await op.waitType("spawn", { from: mark, where: (f) => f.redelivery !== true })
    for (const s of [spawns[0], spawns[1], third]) {
      expect((await submit(server, s.worker_handle, `r${s.task_id}`)).status).toBe(200)
      op.spawnAck(s.req_id)
    }
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.steps).toHaveLength(3)
    expect(run.steps.every((s: any) => s.status === "passed")).toBe(true)
    expect(op.ofType("error")).toEqual([])
    await op.close()
  })
})
