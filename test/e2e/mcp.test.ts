/**
 * `swarmgate mcp` end to end: the adapter as a child process, spoken to over stdio with the
 * MCP SDK's own Client, against `swarmgate serve` on an ephemeral port. The test plays the
 * agent: it joins, starts a run, waits for requests, plays the sub-agent with worker_fetch /
 * worker_submit, acks, and sees the run finish `done`.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { CLI_TIMEOUT, type ServeProcess, serveProcess } from "./cli-helpers.js"
import { type Adapter, type Gate, startAdapter, startGate } from "./mcp-helpers.js"

const threeSteps = {
  id: "three-steps",
  middleware: ["main_ai"],
  metadata: { project_name_alias: "demo" },
  operators: [{ name: "lead" }],
  agents: [
    { name: "planner", kind: "operator", operator: "lead", system_prompt: "Plan: {{ input }}" },
    { name: "coder", kind: "operator", operator: "lead" },
    { name: "reviewer", kind: "operator", operator: "lead" }
  ],
  flow: {
    kind: "seq",
    children: [
      { kind: "step", ref: "planner", in: { op: "path", at: "$.request" }, out: "$.plan" },
      { kind: "step", ref: "coder", in: { op: "path", at: "$.plan" }, out: "$.code" },
      { kind: "step", ref: "reviewer", in: { op: "path", at: "$.code" }, out: "$.review" }
    ]
  }
}

let server: ServeProcess
let gate: Gate
let agent: Adapter
beforeAll(async () => {
  server = await serveProcess()
  gate = await startGate(Number(new URL(server.url).port))
  agent = await startAdapter(gate.url)
}, CLI_TIMEOUT)
afterAll(async () => {
  await agent?.close()
  await gate?.close()
  await server?.stop()
})

/** The sub-agent's side: the lines of its prompt, then fetch → work → submit. */
const subAgent = async (prompt: string) => {
  const lines = Object.fromEntries(prompt.split("\n").map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]))
  const job = await agent.call("worker_fetch", { worker_handle: lines.worker_handle })
  expect(job.task_id).toBe(lines.task_id)
  expect(job.agent).toBe(lines.agent_id)
  const submitted = await agent.call("worker_submit", { worker_handle: lines.worker_handle, body: `${job.agent} did: ${job.prompt}` })
  expect(submitted.submitted).toBe(true)
  return "OUTPUT"
}

describe("swarmgate mcp", () => {
  it("lists typed tools and the two resources", async () => {
    const { tools } = await agent.client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual([
      "ack", "operator_join", "operator_leave", "operators_list", "pending_wait", "run_acquire", "run_cancel",
      "run_start", "run_status", "worker_fetch", "worker_submit"
    ])
    const props = (name: string) => tools.find((t) => t.name === name)!.inputSchema.properties as Record<string, any>
    expect(props("ack").value.type).toEqual(["object", "array", "string", "number", "boolean", "null"])
    expect(props("run_start").input.type).toBe("object")
    expect(props("run_start").blueprint.anyOf.map((s: { type: string }) => s.type)).toEqual(["string", "object"])
    // every input of every tool is typed: nothing a client could drop or stringify
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object")
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {}) as Array<[string, any]>) {
        const typed = schema.type !== undefined || (schema.anyOf ?? []).every((s: any) => s.type !== undefined) && schema.anyOf
        expect(typed, `${tool.name}.${field}`).toBeTruthy()
        expect(typeof schema.description, `${tool.name}.${field} has a description`).toBe("string")
      }
    }
    const { resources } = await agent.client.listResources()
    expect(resources.map((r) => r.uri).sort()).toEqual(["swarmgate://guide/operator-loop", "swarmgate://schema/blueprint.json"])
    const guide = await agent.client.readResource({ uri: "swarmgate://guide/operator-loop" })
    expect((guide.contents[0] as { text: string }).text).toMatch(/operator_join[\s\S]*run_start[\s\S]*pending_wait[\s\S]*spawn_ack[\s\S]*operator_leave/)
    const schema = JSON.parse(String(((await agent.client.readResource({ uri: "swarmgate://schema/blueprint.json" })).contents[0] as { text: string }).text))
    expect(schema.required).toEqual(expect.arrayContaining(["agents", "flow"]))
    expect(Object.keys(schema.$defs)).toEqual(expect.arrayContaining(["FlowNode", "Expr"]))
  }, CLI_TIMEOUT)

  it("serves a three-step main_ai run to done, refusing each caller mistake, across an outage", async () => {
    const { sid } = await agent.call("operator_join", { desc: "mcp e2e" })
    expect(sid).toMatch(/^S-/)
    expect(JSON.stringify(await agent.call("operators_list", { sid }))).toContain(sid)

    // run_start answers while a pending_wait of the same session is outstanding
    const firstWait = agent.call("pending_wait", { sid, timeout_ms: 60_000 })
    const startedAt = Date.now()
    const started = await agent.call("run_start", { blueprint: threeSteps, input: { request: "add a flag" }, sid })
    expect(Date.now() - startedAt).toBeLessThan(10_000)
    expect(started.status).toBe("running")
    const runId = started.run_id

    const handed = new Set<string>()
    let spawns = 0
    let next: Promise<any> = firstWait
    for (let round = 0; round < 30 && spawns < 3; round++) {
      const req = await next
      next = undefined as never
      if (req.timed_out === true) {
        next = agent.call("pending_wait", { sid, timeout_ms: 20_000 })
        continue
      }
      expect(handed.has(req.req_id), `${req.req_id} handed out twice`).toBe(false)
      handed.add(req.req_id)
      expect(req.task_id).toMatch(/^ST-/)
      if (req.type === "hook_before") {
        if (spawns === 0) expect(await agent.fails("ack", { sid, req_id: req.req_id, kind: "hook_ack" })).toMatch(/needs ok/)
        expect(await agent.call("ack", { sid, req_id: req.req_id, kind: "hook_ack", ok: true })).toEqual({ sent: true })
      } else if (req.type === "spawn") {
        spawns++
        const lines = req.subagent_prompt.split("\n")
        expect(lines).toEqual([
          `agent_id: ${req.agent}`,
          `worker_handle: ${req.worker_handle}`,
          `base_url: ${server.url}`,
          `task_id: ${req.task_id}`,
          "Session alias: demo"
        ])
        expect(req.directive).toContain("swarmgate-worker")
        if (spawns === 1) {
          expect(await agent.fails("ack", { sid, req_id: req.req_id, kind: "answer", value: 1 }))
            .toMatch(/is a spawn: reply with kind spawn_ack or spawn_halt/)
          expect(await agent.fails("ack", { sid, req_id: req.req_id, kind: "spawn_ack", reason: "x" }))
            .toMatch(/takes value, ok, error; remove reason/)
        }
        expect(await subAgent(req.subagent_prompt)).toBe("OUTPUT")
        if (spawns === 2) {
          // the link drops with the spawn still owed: the wait says so instead of timing out
          await gate.down()
          const t0 = Date.now()
          expect(await agent.fails("pending_wait", { sid, timeout_ms: 30_000 })).toMatch(/unreachable.*reconnecting on its own/)
          expect(Date.now() - t0).toBeLessThan(20_000)
          // the reply is kept and goes out once the link is back (the server redelivers the spawn)
          expect(await agent.call("ack", { sid, req_id: req.req_id, kind: "spawn_ack" })).toEqual({ sent: true })
          await gate.up()
        } else {
          expect(await agent.call("ack", { sid, req_id: req.req_id, kind: "spawn_ack" })).toEqual({ sent: true })
        }
        expect(await agent.fails("ack", { sid, req_id: req.req_id, kind: "spawn_ack" })).toMatch(/already answered with spawn_ack/)
      } else if (req.type === "hook_after") {
        expect(await agent.fails("ack", { sid, req_id: req.req_id, kind: "hook_ack", ok: true })).toMatch(/needs no reply/)
      }
      next = agent.call("pending_wait", { sid, timeout_ms: 20_000 })
    }
    expect(spawns).toBe(3)

    let run: any
    for (let i = 0; i < 60; i++) {
      run = await agent.call("run_status", { run_id: runId })
      if (run.status !== "running") break
      const req = await next
      if (req.timed_out !== true) {
        expect(handed.has(req.req_id), `${req.req_id} handed out twice`).toBe(false)
        handed.add(req.req_id)
      }
      next = agent.call("pending_wait", { sid, timeout_ms: 1000 })
    }
    await next
    expect(run.status).toBe("done")
    expect(run.result).toMatchObject({
      plan: "planner did: add a flag",
      code: "coder did: planner did: add a flag",
      review: "reviewer did: coder did: planner did: add a flag"
    })
    expect(run.steps.map((s: { ref: string }) => s.ref)).toEqual(["planner", "coder", "reviewer"])

    // the session survived the outage: same sid, connected again
    const listed = await agent.call("operators_list", { sid })
    expect(listed.operators.find((o: { sid: string }) => o.sid === sid)?.connected).toBe(true)

    expect(await agent.fails("ack", { sid, req_id: `${sid}-spawn-nope`, kind: "spawn_ack" })).toMatch(/was not handed out by pending_wait/)
    expect(await agent.fails("ack", { sid: "S-0000", req_id: "x", kind: "answer", value: 1 })).toMatch(/unknown sid "S-0000": use one of S-/)
    expect(await agent.fails("pending_wait", { sid, timeout_ms: -1 })).toMatch(/timeout_ms: must be a whole number from 0 to 300000/)
    expect(await agent.fails("ack", { sid, req_id: "x", kind: "reply" })).toMatch(/kind must be one of answer, hook_ack, spawn_ack, spawn_halt/)
    expect(await agent.fails("run_start", { blueprint: ["no"] })).toMatch(/blueprint must be the id of a stored blueprint/)
    expect(await agent.fails("run_start", { blueprint: "no-such-blueprint" })).toMatch(/no-such-blueprint/)
    expect(await agent.fails("run_cancel", { run_id: runId })).toMatch(/409|already|finished|conflict/i)
    expect(await agent.call("pending_wait", { sid, timeout_ms: 0 })).toEqual({ timed_out: true })

    expect(await agent.call("operator_leave", { sid })).toEqual({ removed: true })
    expect(await agent.fails("pending_wait", { sid })).toMatch(/unknown sid/)
  }, 4 * CLI_TIMEOUT)

  it("run_acquire seats a session in a running run; run_cancel withdraws its spawn and ack says so", async () => {
    const { sid } = await agent.call("operator_join", { desc: "late seat" })
    const oneStep = { ...threeSteps, middleware: [], flow: threeSteps.flow.children[0] }
    // nobody seated: the run waits for an operator
    const started = await agent.call("run_start", { blueprint: oneStep, input: { request: "r" } })
    expect(await agent.call("pending_wait", { sid, timeout_ms: 500 })).toEqual({ timed_out: true })
    expect(await agent.fails("run_acquire", { run_id: started.run_id, sid: "S-nope" })).toMatch(/unknown sid/)
    const seat = await agent.call("run_acquire", { run_id: started.run_id, sid })
    expect(seat).toMatchObject({ slot: "lead", generation: expect.any(Number) })
    const spawn = await agent.call("pending_wait", { sid, timeout_ms: 30_000 })
    expect(spawn).toMatchObject({ type: "spawn", agent: "planner", run_id: started.run_id })

    expect(await agent.call("run_cancel", { run_id: started.run_id })).toEqual({ cancelled: true })
    let message = ""
    for (let i = 0; i < 50 && !/withdrawn/.test(message); i++) {
      message = await agent.fails("ack", { sid, req_id: spawn.req_id, kind: "spawn_ack" }).catch((e) => String(e))
      if (!/withdrawn/.test(message)) await new Promise((r) => setTimeout(r, 100))
    }
    expect(message).toMatch(new RegExp(`${spawn.req_id} was withdrawn by the server \\(run_cancelled\\)`))
    expect((await agent.call("run_status", { run_id: started.run_id })).status).toBe("cancelled")
    expect(await agent.call("operator_leave", { sid })).toEqual({ removed: true })
  }, 2 * CLI_TIMEOUT)
})
