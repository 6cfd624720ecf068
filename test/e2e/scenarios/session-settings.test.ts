/**
 * Issue 8, sessions, over real sockets: the idle settings and the last sweep in
 * `GET /v1/status` (and `serve --session-idle/--sweep-every`), and a reply to a
 * `hook_after`, which needs none.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { launchAs } from "./seating.js"
import { submit } from "./sub-agent.js"

const bin = fileURLToPath(new URL("../../../bin/swarmgate.mjs", import.meta.url))

let server: TestServer
beforeAll(async () => {
  server = await startServer({ idle: { horizon: "2 hours", sweepEvery: "100 millis" } })
})
afterAll(() => server.close())

describe("session settings (issue 8)", () => {
  it("GET /v1/status reports session_idle_secs, sweep_every_secs and when the sweep last ran", async () => {
    const deadline = Date.now() + 5000
    let status = await request(server, "GET", "/v1/status")
    while (status.json.last_sweep_at === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
      status = await request(server, "GET", "/v1/status")
    }
    expect(status.status, status.text).toBe(200)
    expect(status.json.session_idle_secs).toBe(7200)
    expect(status.json.sweep_every_secs).toBe(0.1)
    expect(Date.parse(status.json.last_sweep_at)).toBeGreaterThan(Date.now() - 5000)
  })

  it("serve --session-idle and --sweep-every (env SWARMGATE_SWEEP_EVERY as fallback) show in GET /v1/status", async () => {
    const child = spawn(process.execPath, [bin, "serve", "--memory", "--port", "0", "--session-idle", "2 hours"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SWARMGATE_SWEEP_EVERY: "3 seconds" }
    })
    let output = ""
    child.stdout!.setEncoding("utf8").on("data", (c: string) => (output += c))
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (output += c))
    const exit = new Promise<number | null>((resolve) => child.once("exit", resolve))
    try {
      const deadline = Date.now() + 20_000
      let base: string | undefined
      while (base === undefined && Date.now() < deadline && child.exitCode === null) {
        base = /listening on (http:\/\/[^\s;,]+)/.exec(output)?.[1]
        if (base === undefined) await new Promise((r) => setTimeout(r, 50))
      }
      expect(base, output).toBeDefined()
      const status = await (await fetch(`${base}/v1/status`)).json() as Record<string, unknown>
      expect(status.session_idle_secs).toBe(7200)
      expect(status.sweep_every_secs).toBe(3)
    } finally {
      child.kill("SIGTERM")
      await exit
    }
    const bad = spawn(process.execPath, [bin, "serve", "--memory", "--port", "0", "--sweep-every", "soon"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let badOut = ""
    bad.stderr!.setEncoding("utf8").on("data", (c: string) => (badOut += c))
    expect(await new Promise((resolve) => bad.once("exit", resolve))).toBe(1)
    expect(badOut).toContain("--sweep-every (or env SWARMGATE_SWEEP_EVERY) must be a positive duration")
  }, 40_000)

  it("replying to a hook_after gets an error frame saying hook_after needs no reply", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launchAs(server, { blueprint: oneStepBlueprint({ mainAi: true }), input: {} }, op)
    const before = await op.waitType("hook_before")
    op.hookAck(before.req_id, true)
    const spawn = await op.waitType("spawn")
    expect((await submit(server, spawn.worker_handle, "done")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const after = await op.waitType("hook_after")
    await awaitRun(server, launched.run_id)
    const mark = op.mark()
    op.hookAck(after.req_id, true)
    const error = await op.waitType("error", { from: mark })
    expect(error.code).toBe("unknown_request")
    expect(error.req_id).toBe(after.req_id)
    expect(error.message).toContain("hook_after")
    expect(error.message).toContain("needs no reply")
    expect(error.message).not.toContain("never sent")
    await op.close()
  })
})
