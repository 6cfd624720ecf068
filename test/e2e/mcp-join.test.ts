/**
 * Joining through `swarmgate mcp` when things go wrong: no server at all, a server whose
 * operator socket cannot be opened (the minted session must be deleted again), and the
 * adapter going away (it leaves the sessions it joined).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { readFileSync } from "node:fs"
import { CLI_TIMEOUT, repo, type Running, type ServeProcess, serveProcess, start, waitFor } from "./cli-helpers.js"
import { closedPort, startAdapter, startGate } from "./mcp-helpers.js"

let server: ServeProcess
beforeAll(async () => {
  server = await serveProcess()
}, CLI_TIMEOUT)
afterAll(() => server?.stop())

/** The sessions on the server, seen through a probe session of its own (left out). */
const sessions = async (): Promise<Array<{ sid: string; desc: string | null }>> => {
  const login = await fetch(`${server.url}/v1/operators`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ desc: "probe" })
  })
  const probe = (await login.json()) as { sid: string; token: string }
  const auth = { authorization: `Bearer ${probe.token}` }
  const listed = (await (await fetch(`${server.url}/v1/operators`, { headers: auth })).json()) as {
    operators: Array<{ sid: string; desc: string | null }>
  }
  await fetch(`${server.url}/v1/operators/${probe.sid}`, { method: "DELETE", headers: auth })
  return listed.operators.filter((o) => o.sid !== probe.sid)
}

describe("swarmgate mcp: joining", () => {
  it("against an unreachable server: operator_join fails with what to do, and nothing is held", async () => {
    const agent = await startAdapter(`http://127.0.0.1:${await closedPort()}`)
    try {
      expect(await agent.fails("operator_join", { desc: "nowhere" })).toMatch(/cannot reach a swarmgate server at http:\/\/127\.0\.0\.1:\d+: start one/)
      expect(await agent.fails("pending_wait", { sid: "S-1" })).toMatch(/unknown sid "S-1": no session joined yet, call operator_join first/)
    } finally {
      await agent.close()
    }
  }, CLI_TIMEOUT)

  it("when the operator socket cannot be opened, the minted session is deleted again", async () => {
    const gate = await startGate(Number(new URL(server.url).port), { refuseUpgrades: true })
    const agent = await startAdapter(gate.url, ["--join-timeout", "2 seconds"])
    try {
      const message = await agent.fails("operator_join", { desc: "rollback probe" })
      expect(message).toMatch(/logged in to http:\/\/127\.0\.0\.1:\d+ but could not open the operator socket \(.+\); the session was deleted again/)
      expect((await sessions()).filter((s) => s.desc === "rollback probe")).toEqual([])
    } finally {
      await agent.close()
      await gate.close()
    }
  }, CLI_TIMEOUT)

  it("when the operator socket hangs past --join-timeout, the minted session is deleted again", async () => {
    const gate = await startGate(Number(new URL(server.url).port), { hangUpgrades: true })
    const agent = await startAdapter(gate.url, ["--join-timeout", "2 seconds"])
    try {
      const message = await agent.fails("operator_join", { desc: "hang probe" })
      expect(message).toMatch(/could not open the operator socket \(no connection within 2s\); the session was deleted again/)
      expect((await sessions()).filter((s) => s.desc === "hang probe")).toEqual([])
    } finally {
      await agent.close()
      await gate.close()
    }
  }, CLI_TIMEOUT)

  it("the adapter going away leaves the sessions it joined", async () => {
    const agent = await startAdapter(server.url)
    const { sid } = await agent.call("operator_join", { desc: "short-lived" })
    expect((await sessions()).map((s) => s.sid)).toContain(sid)
    await agent.close()
    let left = false
    for (let i = 0; i < 100 && !left; i++) {
      left = !(await sessions()).some((s) => s.sid === sid)
      if (!left) await new Promise((r) => setTimeout(r, 100))
    }
    expect(left).toBe(true)
  }, CLI_TIMEOUT)

  it("the shipped .mcp.json entry starts the adapter (variables expanded as Claude Code does)", async () => {
    const entry = JSON.parse(readFileSync(`${repo}/.mcp.json`, "utf8")).mcpServers.swarmgate
    const env: Record<string, string> = { SWARMGATE_URL: server.url }
    const expand = (text: string) =>
      text.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => env[name] ?? fallback ?? "")
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: entry.args.map(expand),
      cwd: repo,
      env: { ...process.env, ...Object.fromEntries(Object.entries(entry.env as Record<string, string>).map(([k, v]) => [k, expand(v)])) } as Record<string, string>,
      stderr: "pipe"
    })
    const client = new Client({ name: "registration-check", version: "0.0.0" })
    await client.connect(transport)
    try {
      expect((await client.listTools()).tools).toHaveLength(11)
      const joined = await client.callTool({ name: "operator_join", arguments: { desc: "via .mcp.json" } })
      expect(joined.isError).not.toBe(true)
      expect((await sessions()).some((s) => s.desc === "via .mcp.json")).toBe(true)
    } finally {
      await client.close()
    }
  }, CLI_TIMEOUT)
})

describe("swarmgate mcp: a server restart without durable state", () => {
  it("pending_wait says unreachable while it is down, then that the session is gone and to join again", async () => {
    const first = start(["serve", "--memory", "--port", "0"])
    const url = (await waitFor(() => first.stdout() + first.stderr(), /listening on (http:\/\/[^\s;,]+)/, first))[1]!
    const agent = await startAdapter(url)
    let second: Running | undefined
    try {
      const { sid } = await agent.call("operator_join", { desc: "restart" })
      first.child.kill("SIGTERM")
      await first.exit
      expect(await agent.fails("pending_wait", { sid, timeout_ms: 30_000 })).toMatch(/unreachable/)
      second = start(["serve", "--memory", "--port", new URL(url).port])
      await waitFor(() => second!.stdout() + second!.stderr(), /listening on/, second)
      let message = ""
      for (let i = 0; i < 30 && !/has ended/.test(message); i++) {
        const result = await agent.client.callTool({ name: "pending_wait", arguments: { sid, timeout_ms: 2000 } })
        message = (result.content as Array<{ text: string }>)[0]!.text
      }
      expect(message).toMatch(new RegExp(`operator session ${sid} has ended .*unknown or expired.*call operator_join for a new session`))
      expect(await agent.fails("ack", { sid, req_id: "x", kind: "spawn_ack" })).toMatch(/has ended/)
      expect(await agent.call("operator_leave", { sid })).toEqual({ removed: true })
    } finally {
      await agent.close()
      second?.child.kill("SIGTERM")
      await second?.exit
      if (first.child.exitCode === null) first.child.kill("SIGTERM")
    }
  }, 3 * CLI_TIMEOUT)
})
