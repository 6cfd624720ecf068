/**
 * A server restart in the middle of a run, with durable state (SQLite in a temp dir): the
 * adapter reconnects by itself keeping its session, the resumed run's spawn is delivered
 * again with the same req_id and is not handed out twice, and the run finishes `done`.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CLI_TIMEOUT, type Running, start, waitFor } from "./cli-helpers.js"
import { startAdapter } from "./mcp-helpers.js"

const oneStep = {
  id: "one-step",
  operators: [{ name: "lead" }],
  agents: [{ name: "writer", kind: "operator", operator: "lead" }],
  flow: { kind: "step", ref: "writer", in: { op: "path", at: "$.topic" }, out: "$.text" }
}

const serve = async (dataDir: string, port: string) => {
  const running = start(["serve", "--data-dir", dataDir, "--port", port])
  const url = (await waitFor(() => running.stdout() + running.stderr(), /listening on (http:\/\/[^\s;,]+)/, running))[1]!
  return { running, url }
}
const stop = async (r: Running) => {
  if (r.child.exitCode === null) r.child.kill("SIGTERM")
  await r.exit
}

describe("swarmgate mcp: a server restart with durable state", () => {
  it("is survived: same session, the owed spawn is not handed out twice, the run finishes done", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "swarmgate-mcp-"))
    const first = await serve(dataDir, "0")
    const port = new URL(first.url).port
    const agent = await startAdapter(first.url)
    let second: { running: Running } | undefined
    try {
      const { sid } = await agent.call("operator_join", { desc: "restart survivor" })
      const { run_id } = await agent.call("run_start", { blueprint: oneStep, input: { topic: "tides" }, sid })
      const spawn = await agent.call("pending_wait", { sid, timeout_ms: 30_000 })
      expect(spawn.type).toBe("spawn")

      await stop(first.running)
      expect(await agent.fails("pending_wait", { sid, timeout_ms: 30_000 })).toMatch(/unreachable/)
      second = await serve(dataDir, port)

      // the adapter reconnects on its own, keeping the session
      let connected = false
      for (let i = 0; i < 100 && !connected; i++) {
        const listed = await agent.call("operators_list", { sid }).catch(() => undefined)
        connected = listed?.operators.some((o: { sid: string; connected: boolean }) => o.sid === sid && o.connected) === true
        if (!connected) await new Promise((r) => setTimeout(r, 200))
      }
      expect(connected).toBe(true)
      const resumed = await fetch(`${first.url}/v1/runs/${run_id}/resume`, { method: "POST" })
      expect(resumed.status).toBe(202)

      // the resumed step asks again with the same req_id: it was handed out already
      const again = await agent.call("pending_wait", { sid, timeout_ms: 3000 })
      expect(again.req_id === spawn.req_id).toBe(false)

      const handle = /^worker_handle: (.+)$/m.exec(spawn.subagent_prompt)![1]!
      const job = await agent.call("worker_fetch", { worker_handle: handle })
      await agent.call("worker_submit", { worker_handle: handle, body: `about ${job.prompt}` })
      expect(await agent.call("ack", { sid, req_id: spawn.req_id, kind: "spawn_ack" })).toEqual({ sent: true })

      let run: any
      for (let i = 0; i < 100; i++) {
        run = await agent.call("run_status", { run_id })
        if (run.status !== "running") break
        await new Promise((r) => setTimeout(r, 200))
      }
      expect(run.status).toBe("done")
      expect(run.result.text).toBe("about tides")
    } finally {
      await agent.close()
      if (second !== undefined) await stop(second.running)
      await stop(first.running)
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 4 * CLI_TIMEOUT)
})
