/**
 * P5 durable write (quality.md): `POST /v1/worker/submit` with SQLite on, as the sub-agent
 * sees it — from sending the request to reading the 200, which comes only after the result
 * is committed. A real server (`AppLive` on a SQLite data dir in a fresh temp dir), an
 * operator on a real WebSocket that acks each spawn after its submit, and a `seq` of
 * operator steps, one submit each, one at a time.
 */
import { HttpServer } from "@effect/platform"
import { Effect, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WebSocket } from "ws"
import { AppLive } from "../src/layers/App.js"
import { asServed } from "./served.js"

export const P5_P99_TARGET_MS = 5

export interface P5Report {
  readonly submits: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly ok: boolean
  readonly problem?: string
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN

const blueprintOf = (steps: number) => ({
  id: "bench-p5",
  operators: [{ name: "lead" }],
  agents: [{ name: "worker", kind: "operator", operator: "lead" }],
  flow: {
    kind: "seq",
    children: Array.from({ length: steps }, () => ({ kind: "step", ref: "worker", in: { op: "path", at: "$.x" }, out: "$.x" }))
  }
})

export const runP5 = async (
  log: (line: string) => void,
  submits = 1_000,
  warmup = 100,
  /** `memory`: the same with `--memory`, to see what the durable write adds. */
  storage: "sqlite" | "memory" = "sqlite"
): Promise<P5Report> => {
  const dir = mkdtempSync(join(tmpdir(), "swarmgate-bench-p5-"))
  const runtime = ManagedRuntime.make(
    asServed(AppLive({ host: "127.0.0.1", port: 0, memory: storage === "memory", dataDir: join(dir, "data") }))
  )
  let ws: WebSocket | undefined
  try {
    const port = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) =>
      s.address._tag === "TcpAddress" ? s.address.port : 0))
    const base = `http://127.0.0.1:${port}`
    const login = await (await fetch(`${base}/v1/operators`, { method: "POST" })).json() as { sid: string; token: string }
    const timings: Array<number> = []
    const total = warmup + submits
    let seen = 0
    let failure: string | undefined
    const finished = new Promise<void>((resolve) => {
      ws = new WebSocket(`ws://127.0.0.1:${port}/v1/operators/${login.sid}/ws`, {
        headers: { authorization: `Bearer ${login.token}` }
      })
      ws.on("message", async (data) => {
        const frame = JSON.parse(data.toString())
        if (frame.type !== "spawn") return
        const started = performance.now()
        const reply = await fetch(`${base}/v1/worker/submit`, {
          method: "POST",
          headers: { authorization: `Bearer ${frame.worker_handle}`, "content-type": "text/plain" },
          body: `result ${seen}: ${"x".repeat(200)}`
        })
        await reply.arrayBuffer()
        const elapsed = performance.now() - started
        if (reply.status !== 200) failure ??= `submit answered ${reply.status}`
        if (seen >= warmup) timings.push(elapsed)
        seen++
        ws!.send(JSON.stringify({ type: "spawn_ack", req_id: frame.req_id, value: null }))
        if (seen === total || failure !== undefined) resolve()
      })
      ws.once("error", (e) => {
        failure ??= `socket error: ${e.message}`
        resolve()
      })
    })
    await new Promise<void>((resolve, reject) => {
      ws!.once("open", () => resolve())
      ws!.once("error", reject)
    })
    const launched = await fetch(`${base}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${login.token}` },
      body: JSON.stringify({ blueprint: blueprintOf(total), input: { x: 0 }, operator_sid: login.sid })
    })
    if (launched.status !== 202) throw new Error(`launch failed: ${launched.status} ${await launched.text()}`)
    // the cap's timer is cleared, or it would keep the bench process alive for two minutes
    let cap: NodeJS.Timeout | undefined
    await Promise.race([finished, new Promise((r) => (cap = setTimeout(r, 120_000)))])
    clearTimeout(cap)
    const sorted = [...timings].sort((a, b) => a - b)
    const report = {
      submits: sorted.length,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted.at(-1) ?? Number.NaN
    }
    log(`P5 ${report.submits} submits (${storage}): p50 ${report.p50Ms.toFixed(2)} ms, p99 ${report.p99Ms.toFixed(2)} ms`)
    const problem = failure ?? (sorted.length < submits ? `only ${sorted.length}/${submits} submits within 120 s` : undefined)
    return { ...report, ok: problem === undefined, ...(problem === undefined ? {} : { problem }) }
  } finally {
    ws?.terminate()
    await runtime.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}
