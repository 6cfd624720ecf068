/**
 * The README's MCP walkthrough, with this test as the agent: join, read the guide, start
 * examples/review-loop.json with run_start (the file's JSON as blueprint, seated), serve it
 * (a sub-agent per spawn with exactly subagent_prompt, spawn_ack on OUTPUT, hook_ack ok on
 * hook_before), see it end `done`, leave. The sub-agents answer as examples/agent.sh does.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { CLI_TIMEOUT, repo, type ServeProcess, serveProcess } from "./cli-helpers.js"
import { type Adapter, startAdapter } from "./mcp-helpers.js"

let server: ServeProcess
let agent: Adapter
beforeAll(async () => {
  server = await serveProcess()
  agent = await startAdapter(server.url)
}, CLI_TIMEOUT)
afterAll(async () => {
  await agent?.close()
  await server?.stop()
})

/** A swarmgate-worker sub-agent given `prompt`: fetch, work (as examples/agent.sh), submit, reply. */
const swarmgateWorker = async (prompt: string) => {
  const handle = /^worker_handle: (.+)$/m.exec(prompt)![1]!
  const job = await agent.call("worker_fetch", { worker_handle: handle })
  const input = JSON.stringify(job.prompt)
  const body = job.agent === "reviewer"
    ? (/"round":0/.test(input) ? "REVISE" : "APPROVE")
    : `${job.agent} did: ${typeof job.prompt === "string" ? job.prompt : input}`
  await agent.call("worker_submit", { worker_handle: handle, body })
  return "OUTPUT"
}

describe("README walkthrough through swarmgate mcp", () => {
  it("review-loop.json: join, start, serve, done, leave", async () => {
    const { sid } = await agent.call("operator_join", { desc: "review demo" })
    const guide = await agent.client.readResource({ uri: "swarmgate://guide/operator-loop" })
    expect((guide.contents[0] as { text: string }).text).toContain("subagent_prompt")

    const blueprint = JSON.parse(readFileSync(`${repo}/examples/review-loop.json`, "utf8"))
    const { run_id } = await agent.call("run_start", { blueprint, sid })

    const seen = new Set<string>()
    let run = await agent.call("run_status", { run_id })
    for (let i = 0; i < 200 && run.status === "running"; i++) {
      const req = await agent.call("pending_wait", { sid, timeout_ms: 2000 })
      if (req.timed_out !== true) {
        expect(seen.has(req.req_id)).toBe(false)
        seen.add(req.req_id)
        if (req.type === "spawn") {
          expect(await swarmgateWorker(req.subagent_prompt)).toBe("OUTPUT")
          await agent.call("ack", { sid, req_id: req.req_id, kind: "spawn_ack" })
        } else if (req.type === "hook_before") {
          await agent.call("ack", { sid, req_id: req.req_id, kind: "hook_ack", ok: true })
        }
      }
      run = await agent.call("run_status", { run_id })
    }
    expect(run.status).toBe("done")
    expect(run.result.review).toBe("APPROVE")
    expect(run.result.plan).toBe("planner did: add a --dry-run flag to the deploy script")
    const refs = run.steps.map((s: { ref: string }) => s.ref)
    expect(refs.filter((r: string) => r === "drafter")).toHaveLength(2)
    expect(refs.filter((r: string) => r === "reviser")).toHaveLength(1)

    expect(await agent.call("operator_leave", { sid })).toEqual({ removed: true })
  }, 3 * CLI_TIMEOUT)
})
