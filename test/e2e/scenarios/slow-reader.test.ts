/**
 * Issue 9 finding 5 (quality.md R7, R8; protocol.md §3 rule 6; cli.md `serve` shutdown):
 * an operator socket that stops reading cannot grow server memory without bound, and it
 * cannot hold a shutdown. The server is a real `swarmgate serve` child process; its RSS is
 * read from /proc and used only as a bound.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { WebSocket } from "ws"

const bin = fileURLToPath(new URL("../../../bin/swarmgate.mjs", import.meta.url))
const MiB = 1024 * 1024

interface Served {
  readonly child: ChildProcess
  readonly base: string
  readonly output: () => string
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const serve = async (): Promise<Served> => {
  const child = spawn(process.execPath, [bin, "serve", "--memory", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (output += c))
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (output += c))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/[^\s;,]+)/.exec(output)
    if (match) return { child, base: match[1]!, output: () => output, exit }
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill("SIGKILL")
  throw new Error(`serve did not start:\n${output}`)
}

const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const json = async (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(base + path, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, json: text === "" ? undefined : JSON.parse(text) }
}

interface Operator {
  readonly sid: string
  readonly token: string
}

/** A socket that records frames and, if `answer`, answers every `ask` once. */
const attach = (base: string, op: Operator, options: { answer: boolean }) =>
  new Promise<{ ws: WebSocket; frames: Array<any>; closed: Promise<{ code: number; reason: string }> }>((resolve, reject) => {
    const ws = new WebSocket(`${base.replace("http", "ws")}/v1/operators/${op.sid}/ws`, {
      headers: { authorization: `Bearer ${op.token}` }
    })
    const frames: Array<any> = []
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      ws.once("close", (code, reason) => done({ code, reason: reason.toString() }))
    )
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString())
      frames.push(frame)
      if (options.answer && frame.type === "ask") {
        ws.send(JSON.stringify({ type: "answer", req_id: frame.req_id, value: `answer to ${frame.req_id}` }))
      }
    })
    ws.on("error", () => {})
    ws.once("open", () => resolve({ ws, frames, closed }))
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })

/** A run seated with `op` whose one operator step is handed out; returns its worker handle. */
const seatedStep = async (base: string, op: Operator) => {
  const reader = await attach(base, op, { answer: false })
  const blueprint = {
    operators: [{ name: "lead" }],
    agents: [{ name: "worker", kind: "operator", operator: "lead" }],
    flow: { kind: "step", ref: "worker", in: { op: "path", at: "$" }, out: "$.answer" }
  }
  const launched = await json(base, "POST", "/v1/tasks", { blueprint, input: {}, operator_sid: op.sid }, {
    authorization: `Bearer ${op.token}`
  })
  if (launched.status !== 202) throw new Error(`launch: ${launched.status} ${JSON.stringify(launched.json)}`)
  const deadline = Date.now() + 10_000
  while (!reader.frames.some((f) => f.type === "spawn") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  const spawnFrame = reader.frames.find((f) => f.type === "spawn")
  reader.ws.close(1000)
  await reader.closed
  return { runId: launched.json.run_id as string, handle: spawnFrame.worker_handle as string }
}

const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs: number, onTick?: () => void) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    onTick?.()
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const pendingOf = async (base: string, op: Operator) =>
  (await json(base, "GET", `/v1/operators/${op.sid}`, undefined, { authorization: `Bearer ${op.token}` })).json

/** `count` sub-agent asks of `bytes` each, all waiting for the operator. */
const askMany = (base: string, handle: string, count: number, bytes: number) =>
  Array.from({ length: count }, (_, i) =>
    fetch(`${base}/v1/worker/ask`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${handle}` },
      body: JSON.stringify({ question: `${i}:`.padEnd(bytes, "q") })
    }).then(async (r) => ({ status: r.status, body: await r.json() as any }), (e) => ({ status: 0, body: String(e) })))

describe("finding 5: a socket that stops reading (R7, R8)", () => {
  it("finding 5 (R7): 150 MiB of requests to a non-reading socket: RSS within 32 MiB, close 1008, redelivered and answered once after reconnect", async () => {
    const server = await serve()
    try {
      const op: Operator = (await json(server.base, "POST", "/v1/operators", { desc: "slow reader" })).json
      const { handle } = await seatedStep(server.base, op)
      // 150 requests of ~1 MiB each wait in the session while nobody is attached
      const asks = askMany(server.base, handle, 150, MiB - 64)
      await waitUntil("150 pending asks", async () => (await pendingOf(server.base, op)).pending.length >= 151, 60_000)
      await new Promise((r) => setTimeout(r, 1000))
      const before = rssOf(server.child.pid!)

      // attach, then stop reading: the server redelivers 150 MiB into that socket
      const stuck = await attach(server.base, op, { answer: false })
      const raw = (stuck.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
      raw.pause()
      let peak = before
      await waitUntil(
        "the server to detach the non-reading socket",
        async () => (await pendingOf(server.base, op)).connected === false,
        30_000,
        () => {
          peak = Math.max(peak, rssOf(server.child.pid!))
          if (peak - before >= 32 * MiB) throw new Error(`RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`)
        }
      )
      peak = Math.max(peak, rssOf(server.child.pid!))
      expect(peak - before, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`).toBeLessThan(32 * MiB)
      raw.resume()
      expect(await stuck.closed).toEqual({ code: 1008, reason: "operator is not reading" })
      // every request is still pending: a 1008 is a disconnect
      expect((await pendingOf(server.base, op)).pending.length).toBe(151)

      const reader = await attach(server.base, op, { answer: true })
      const answers = await Promise.all(asks)
      expect(answers.map((a) => a.status)).toEqual(Array(150).fill(200))
      const asked = reader.frames.filter((f) => f.type === "ask")
      expect(new Set(asked.map((f) => f.req_id)).size).toBe(150)
      expect(asked.length).toBe(150)
      expect(asked.every((f) => f.redelivery === true)).toBe(true)
      for (const a of answers) expect(a.body.answer).toMatch(/^answer to /)
      expect(reader.frames.filter((f) => f.type === "error")).toEqual([])
      reader.ws.close(1000)
    } finally {
      server.child.kill("SIGKILL")
      await server.exit
    }
  }, 120_000)

  it("finding 5 (R8): SIGTERM with a non-reading socket exits 0 within 5 s", async () => {
    const server = await serve()
    const op: Operator = (await json(server.base, "POST", "/v1/operators", {})).json
    const { handle } = await seatedStep(server.base, op)
    const asks = askMany(server.base, handle, 24, MiB - 64)
    await waitUntil("24 pending asks", async () => (await pendingOf(server.base, op)).pending.length >= 25, 30_000)
    const stuck = await attach(server.base, op, { answer: false })
    ;(stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    await new Promise((r) => setTimeout(r, 500))
    const started = Date.now()
    server.child.kill("SIGTERM")
    const exit = await server.exit
    const took = Date.now() - started
    expect(exit).toEqual({ code: 0, signal: null })
    expect(took, `exit took ${took} ms`).toBeLessThan(5000)
    // finished by itself, not by the shutdown budget running out
    expect(server.output()).not.toContain("did not finish in time")
    await Promise.all(asks)
  }, 60_000)

  it("finding 5 (R8): a second signal during shutdown hurries it, exits 0, and leaves no agent process behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "swarmgate-r8-"))
    const server = await serve()
    try {
      const pidFile = join(dir, "pid")
      const blueprint = {
        agents: [{
          name: "slow",
          kind: "subprocess",
          command: [process.execPath, "-e", `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 60000)`],
          stdin: false
        }],
        flow: { kind: "step", ref: "slow", in: { op: "path", at: "$" }, out: "$.out" }
      }
      expect((await json(server.base, "POST", "/v1/tasks", { blueprint, input: {} })).status).toBe(202)
      let agentPid = 0
      await waitUntil("the agent to start", async () => {
        try {
          agentPid = Number(readFileSync(pidFile, "utf8"))
        } catch {
          return false
        }
        return agentPid > 0
      }, 10_000)
      expect(isAlive(agentPid)).toBe(true)
      // a non-reading operator socket too, holding buffered frames
      const op: Operator = (await json(server.base, "POST", "/v1/operators", {})).json
      const { handle } = await seatedStep(server.base, op)
      const asks = askMany(server.base, handle, 16, MiB - 64)
      await waitUntil("16 pending asks", async () => (await pendingOf(server.base, op)).pending.length >= 17, 30_000)
      const stuck = await attach(server.base, op, { answer: false })
      ;(stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause()
      await new Promise((r) => setTimeout(r, 300))

      const started = Date.now()
      server.child.kill("SIGINT")
      await new Promise((r) => setTimeout(r, 50))
      server.child.kill("SIGTERM")
      const exit = await server.exit
      expect(exit).toEqual({ code: 0, signal: null })
      expect(Date.now() - started).toBeLessThan(5000)
      await waitUntil("the agent to be gone", async () => !isAlive(agentPid), 2000)
      await Promise.all(asks)
    } finally {
      server.child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
