/**
 * How each operator reply ends a step (protocol.md §2.2) and how a worker submit becomes
 * the step's value (http-api.md, worker endpoints), end to end. Also the directive blocks
 * that depend on the blueprint (alias) and the server (data path), and concurrent steps.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { envelopeCode, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, fanoutBlueprint, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { artifact, emit, fetchPrompt, getData, postResult, submit, subAgentPromptOf, workerAsk } from "./sub-agent.js"

let server: TestServer
let op: ScriptedOperator
beforeAll(async () => {
  server = await startServer()
  op = await ScriptedOperator.login(server, { desc: "replies" })
})
afterAll(async () => {
  await op.close()
  await server.close()
})

/** Launch a one-step run seated with `op` and return its spawn frame. */
const oneStep = async (blueprint: unknown = oneStepBlueprint(), input: unknown = { request: "r" }) => {
  const launched = await launch(server, { blueprint, input, operator_sid: op.sid })
  const spawn = await op.waitType("spawn", { where: (f) => f.run_id === launched.run_id })
  return { launched, spawn }
}

describe("operator replies end the step as specified", () => {
  it("spawn_ack without a submit: the ack's value is the result; stats are kept when an object", async () => {
    const { launched, spawn } = await oneStep()
    op.spawnAck(spawn.req_id, { value: { from: "ack" }, stats: { tokens: 12 } })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toEqual({ from: "ack" })
    expect(run.steps[0].stats).toEqual({ tokens: 12 })
  })

  it("spawn_ack with stats that is not an object: dropped, never fails the reply", async () => {
    const { launched, spawn } = await oneStep()
    op.spawnAck(spawn.req_id, { value: 1, stats: "lots" })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("done")
    expect(run.steps[0].stats).toBeUndefined()
    expect(op.ofType("error").filter((e) => e.req_id === spawn.req_id)).toEqual([])
  })

  it("spawn_ack with error fails the step with that message, whatever ok says", async () => {
    const { launched, spawn } = await oneStep()
    op.spawnAck(spawn.req_id, { ok: true, error: "could not start the sub-agent: no quota" })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.error.message).toContain("no quota")
  })

  it("spawn_ack ok:false without error is a normal blocked result: the flow fails with the value", async () => {
    const { launched, spawn } = await oneStep()
    op.spawnAck(spawn.req_id, { ok: false, value: { why: "tests red" } })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.error.step_value).toEqual({ why: "tests red" })
    expect(run.steps[0].status).toBe("blocked")
  })

  it("spawn_halt is a success whose value is {halted, reason, value}", async () => {
    const { launched, spawn } = await oneStep()
    op.spawnHalt(spawn.req_id, { reason: "enough", value: 3 })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toEqual({ halted: true, reason: "enough", value: 3 })
  })

  it("spawn_halt without reason: reason null, value null", async () => {
    const { launched, spawn } = await oneStep()
    op.spawnHalt(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.result.answer).toEqual({ halted: true, reason: null, value: null })
  })

  it("unknown extra fields on a reply are ignored", async () => {
    const { launched, spawn } = await oneStep()
    op.send({ type: "spawn_ack", req_id: spawn.req_id, value: "v", colour: "blue" })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("done")
    expect(run.result.answer).toBe("v")
  })

  it("hook_ack ok:false without reason rejects with \"spawn rejected by operator\"", async () => {
    const mark = op.mark()
    const launched = await launch(server, { blueprint: oneStepBlueprint({ mainAi: true }), input: {}, operator_sid: op.sid })
    const before = await op.waitType("hook_before", { from: mark })
    op.hookAck(before.req_id, false)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.error.message).toContain("spawn rejected by operator")
  })
})

describe("worker submissions become the step's value", () => {
  const cases: Array<[string, string, { verdict?: "pass" | "blocked" | "skip" } | undefined, string, unknown]> = [
    ["a JSON object body", "{\"a\": 1}", undefined, "done", { a: 1 }],
    ["a JSON array body", "[1, 2]", undefined, "done", [1, 2]],
    ["JSON inside one leading markdown fence", "```json\n{\"fenced\": true}\n```\n", undefined, "done", { fenced: true }],
    ["a JSON number stays a string", "42", undefined, "done", "42"],
    ["text keeps its inner whitespace, loses trailing whitespace", "  line one\nline two \n\n", undefined, "done", "  line one\nline two"]
  ]
  for (const [name, body, options, status, value] of cases) {
    it(name, async () => {
      const { launched, spawn } = await oneStep()
      const reply = await submit(server, spawn.worker_handle, body, options ?? {})
      expect(reply.status, reply.text).toBe(200)
      expect(reply.json.bytes).toBe(Buffer.byteLength(body))
      op.spawnAck(spawn.req_id)
      const run = await awaitRun(server, launched.run_id)
      expect(run.status, JSON.stringify(run)).toBe(status)
      expect(run.result.answer).toEqual(value)
    })
  }

  it("the first submit wins; a second is 409 already_submitted", async () => {
    const { launched, spawn } = await oneStep()
    expect((await submit(server, spawn.worker_handle, "first")).status).toBe(200)
    expect((await submit(server, spawn.worker_handle, "second")).status).toBe(409)
    op.spawnAck(spawn.req_id, { value: "ack value is ignored when the worker submitted" })
    expect((await awaitRun(server, launched.run_id)).result.answer).toBe("first")
  })

  it("?verdict=blocked fails the flow; ?verdict=skip lets it go on with the step skipped", async () => {
    const blocked = await oneStep()
    expect((await submit(server, blocked.spawn.worker_handle, "nope", { verdict: "blocked" })).status).toBe(200)
    op.spawnAck(blocked.spawn.req_id)
    const b = await awaitRun(server, blocked.launched.run_id)
    expect(b.status).toBe("failed")
    expect(b.steps[0].status).toBe("blocked")

    const skipped = await oneStep()
    expect((await submit(server, skipped.spawn.worker_handle, "meh", { verdict: "skip" })).status).toBe(200)
    op.spawnAck(skipped.spawn.req_id)
    const s = await awaitRun(server, skipped.launched.run_id)
    expect(s.status).toBe("done")
    expect(s.steps[0].status).toBe("skipped")
  })

  it("?verdict=sideways is 400 naming verdict", async () => {
    const { launched, spawn } = await oneStep()
    const reply = await request(server, "POST", "/v1/worker/submit?verdict=sideways", {
      headers: { authorization: `Bearer ${spawn.worker_handle}`, "content-type": "text/plain" },
      body: "x"
    })
    expect(reply.status, reply.text).toBe(400)
    envelopeCode(reply)
    expect(reply.json.error.message).toMatch(/verdict/)
    expect(reply.text).not.toContain(spawn.worker_handle)
    await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)
  })

  it("POST /v1/worker/result {value, ok}: ok:false is blocked", async () => {
    const { launched, spawn } = await oneStep()
    expect((await postResult(server, spawn.worker_handle, { n: 1 }, false)).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.error.step_value).toEqual({ n: 1 })
  })

  it("artifacts fold into {out, parts}", async () => {
    const { launched, spawn } = await oneStep()
    expect((await artifact(server, spawn.worker_handle, "diff", "--- a\n+++ b")).status).toBe(200)
    expect((await artifact(server, spawn.worker_handle, "meta", "{\"files\": 2}")).status).toBe(200)
    expect((await submit(server, spawn.worker_handle, "summary")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.result.answer).toEqual({ out: "summary", parts: { diff: "--- a\n+++ b", meta: { files: 2 } } })
  })

  it("verdicts: a pass outside them is 422 and changes nothing; an allowed one passes", async () => {
    const bp = oneStepBlueprint({ verdicts: ["APPROVE", "REVISE"] })
    const { launched, spawn } = await oneStep(bp)
    const refused = await submit(server, spawn.worker_handle, "MAYBE")
    expect(refused.status, refused.text).toBe(422)
    envelopeCode(refused)
    expect((await submit(server, spawn.worker_handle, "APPROVE\n")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("done")
    expect(run.result.answer).toBe("APPROVE")
  })

  it("the data path: emit, then read back by out_id and by name with the same content type", async () => {
    const { launched, spawn } = await oneStep()
    const body = "x".repeat(5000)
    const emitted = await emit(server, spawn.worker_handle, "big", body, { contentType: "text/markdown" })
    expect(emitted.status, emitted.text).toBe(200)
    expect(emitted.json).toMatchObject({ name: "big", bytes: 5000 })
    expect(emitted.json.out_id).toMatch(/^out-[0-9a-f]{16}$/)
    expect(emitted.json.sha256).toMatch(/^[0-9a-f]{64}$/)
    const viaQuery = await emit(server, spawn.worker_handle, "big", "v2", { viaQuery: true })
    expect(viaQuery.status, viaQuery.text).toBe(200)
    const byId = await getData(server, spawn.worker_handle, emitted.json.out_id)
    expect(byId.status).toBe(200)
    expect(byId.text).toBe(body)
    expect(byId.headers.get("content-type")).toMatch(/^text\/markdown/)
    // by name: the latest output of that name in the run
    const byName = await getData(server, spawn.worker_handle, "big")
    expect(byName.text).toBe("v2")
    // an operator token reads it too
    expect((await getData(server, op.token, emitted.json.out_id)).text).toBe(body)
    const missing = await getData(server, spawn.worker_handle, "out-0000000000000000")
    expect(missing.status).toBe(404)
    envelopeCode(missing)
    op.spawnAck(spawn.req_id, { value: emitted.json.out_id })
    expect((await awaitRun(server, launched.run_id)).status).toBe("done")
  })
})

describe("directive blocks and worker prompt context", () => {
  it("the data path block names the real base URL (the server has a data path by default)", async () => {
    const { launched, spawn } = await oneStep()
    const d: string = spawn.directive
    expect(d).toContain("[Data path]")
    expect(d).toMatch(new RegExp(`^DATA_EMIT: ${server.url.replace(/\./g, "\\.")}/v1/data/emit`, "m"))
    expect(d).toMatch(new RegExp(`^DATA_GET: ${server.url.replace(/\./g, "\\.")}/v1/data/`, "m"))
    // blocks in the specified order: endpoints, task/agent lines, data path, instruction
    expect(d.indexOf("/v1/worker/prompt")).toBeLessThan(d.indexOf("task_id: "))
    expect(d.indexOf("agent_id: ")).toBeLessThan(d.indexOf("[Data path]"))
    expect(d.indexOf("[Data path]")).toBeLessThan(d.lastIndexOf("worker_handle: "))
    await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)
  })

  it("metadata.project_name_alias adds the alias line, the reminder block, and the prompt context", async () => {
    const bp = { ...oneStepBlueprint(), metadata: { project_name_alias: "feature-x" } }
    const { launched, spawn } = await oneStep(bp)
    const d: string = spawn.directive
    expect(d).toMatch(/^project_name_alias: feature-x$/m)
    expect(d).toContain("[Session alias reminder]")
    expect(d).toContain("Session alias: feature-x")
    expect(d.indexOf("project_name_alias: feature-x")).toBeLessThan(d.indexOf("[Session alias reminder]"))
    expect(d.indexOf("[Session alias reminder]")).toBeLessThan(d.indexOf("[Data path]"))
    expect(subAgentPromptOf(d).worker_handle).toBe(spawn.worker_handle)
    const prompt = await fetchPrompt(server, spawn.worker_handle)
    expect(prompt.json.context.project_name_alias).toBe("feature-x")
    await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)
  })

  it("a system prompt with an unknown {{ name }} fails the step at dispatch naming the name", async () => {
    const bp = oneStepBlueprint({ systemPrompt: "Use {{ nosuchfield }}" })
    const launched = await launch(server, { blueprint: bp, input: { request: "x" }, operator_sid: op.sid })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(run.error.message).toContain("nosuchfield")
  })
})

describe("a worker's mid-work ask goes to the seat's operator", () => {
  it("POST /v1/worker/ask → `ask` frame with parent_req_id = the spawn → answer → 200 {answer}", async () => {
    const { launched, spawn } = await oneStep()
    const mark = op.mark()
    const pending = workerAsk(server, spawn.worker_handle, { choose: ["a", "b"] })
    const ask = await op.waitType("ask", { from: mark })
    expect(ask).toMatchObject({ task_id: spawn.task_id, question: { choose: ["a", "b"] }, parent_req_id: spawn.req_id })
    expect(ask.req_id).toMatch(new RegExp(`^${op.sid}-ask-`))
    op.answer(ask.req_id, "b")
    const reply = await pending
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json).toEqual({ answer: "b" })
    expect((await submit(server, spawn.worker_handle, "chose b")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    expect((await awaitRun(server, launched.run_id)).result.answer).toBe("chose b")
  })
})

describe("concurrent operator steps (fanout) through one session", () => {
  it("three spawns in flight at once, answered in reverse order, joined in item order", async () => {
    const bp = fanoutBlueprint()
    const launched = await launch(server, { blueprint: bp, input: { items: ["x", "y", "z"] }, operator_sid: op.sid })
    const deadline = Date.now() + 5000
    while (op.ofType("spawn").filter((f) => f.run_id === launched.run_id).length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10))
    }
    const spawns = op.ofType("spawn").filter((f) => f.run_id === launched.run_id)
    expect(spawns).toHaveLength(3)
    expect(new Set(spawns.map((s) => s.task_id)).size).toBe(3)
    expect(new Set(spawns.map((s) => s.worker_handle)).size).toBe(3)
    for (const s of [...spawns].reverse()) {
      const prompt = await fetchPrompt(server, s.worker_handle, s.task_id)
      expect((await submit(server, s.worker_handle, `did ${prompt.json.prompt}`)).status).toBe(200)
      op.spawnAck(s.req_id)
    }
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.joined.map((b: any) => b.r)).toEqual(["did x", "did y", "did z"])
  })
})
