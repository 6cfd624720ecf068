/**
 * P2 full operator step: one `operator` step with `main_ai` on — hook_before,
 * spawn, HTTP prompt fetch, HTTP submit, spawn_ack, hook_after — with an automated
 * operator and worker in the client process. The server runs in this process (AppLive,
 * memory); each step is timed from `Runs.launch` to `Runs.awaitEnd`. 200 sequential,
 * then 200 at once on the same operator session.
 */
import { HttpServer } from "@effect/platform"
import { Effect, ManagedRuntime } from "effect"
import { AppLive } from "../src/layers/App.js"
import { Runs } from "../src/services/Runs.js"
import { startClient } from "./children.js"
import { percentile } from "./load.js"
import type { Bench, Log, Section, Target } from "./suite.js"
import { int, ms, ratio, table } from "./table.js"
import { asServed } from "./served.js"

const SEQUENTIAL = 200
const CONCURRENT = 200
const WARMUP = 50
const capMs = 60_000

export const P2_TARGETS = { p50Ms: 2, concurrentVsOne: 4 }

const blueprint = {
  id: "bench-p2",
  middleware: ["main_ai"],
  operators: [{ name: "lead" }],
  agents: [{ name: "worker", kind: "operator", operator: "lead" }],
  flow: { kind: "step", ref: "worker", in: { op: "path", at: "$" }, out: "$.answer" }
}

export const runP2 = async (log: Log): Promise<Section> => {
  const layer = asServed(AppLive({ host: "127.0.0.1", port: 0, memory: true }))
  const runtime = ManagedRuntime.make(layer)
  const client = await startClient(log)
  try {
    const port = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) =>
      s.address._tag === "TcpAddress" ? s.address.port : 0))
    const login = await fetch(`http://127.0.0.1:${port}/v1/operators`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ desc: "bench p2" })
    })
    const { sid, token } = (await login.json()) as { sid: string; token: string }
    await client.call("connect", {
      id: "operator",
      url: `ws://127.0.0.1:${port}/v1/operators/${sid}/ws`,
      headers: { authorization: `Bearer ${token}` },
      mode: "operator"
    })
    const step = (n: number) =>
      Effect.gen(function*() {
        const runs = yield* Runs
        const start = performance.now()
        const { run_id } = yield* runs.launch({ blueprint, input: { n }, operator_sid: sid })
        const run = yield* runs.awaitEnd(run_id)
        const elapsed = performance.now() - start
        if (run.status !== "done") return yield* Effect.dieMessage(`step ${n}: run ended ${run.status}: ${JSON.stringify(run.error)}`)
        return elapsed
      })
    const sequential = (count: number) =>
      runtime.runPromise(Effect.forEach(Array.from({ length: count }, (_, i) => i), step).pipe(Effect.timeout(capMs)))

    log("P2 warm-up")
    await sequential(WARMUP)
    const seq = Float64Array.from(await sequential(SEQUENTIAL)).sort()
    const p50 = percentile(seq, 50)
    log(`P2 ${SEQUENTIAL} sequential steps: p50 ${ms(p50)} ms`)
    const start = performance.now()
    const each = Float64Array.from(await runtime.runPromise(
      Effect.forEach(Array.from({ length: CONCURRENT }, (_, i) => i), step, { concurrency: "unbounded" }).pipe(
        Effect.timeout(capMs)
      )
    )).sort()
    const wall = performance.now() - start
    log(`P2 ${CONCURRENT} concurrent steps: all done in ${ms(wall)} ms`)
    const stats = await client.call<{ answered: number; other: number }>("stats")

    const data = {
      sequential: { steps: SEQUENTIAL, p50Ms: p50, p99Ms: percentile(seq, 99), meanMs: seq.reduce((a, b) => a + b, 0) / seq.length },
      concurrent: { steps: CONCURRENT, wallMs: wall, p50Ms: percentile(each, 50), p99Ms: percentile(each, 99), vsOneStep: wall / p50 },
      client: stats
    }
    const targets: Array<Target> = [
      { id: "P2", what: "full operator step, sequential p50", target: `<= ${P2_TARGETS.p50Ms} ms`, value: `${ms(p50)} ms`, pass: p50 <= P2_TARGETS.p50Ms },
      {
        id: "P2",
        what: `${CONCURRENT} concurrent steps, wall time vs one step`,
        target: `<= ${P2_TARGETS.concurrentVsOne} x`,
        value: `${ratio(wall / p50)} (${ms(wall)} ms)`,
        pass: wall / p50 <= P2_TARGETS.concurrentVsOne
      }
    ]
    return {
      title: "P2 full operator step with main_ai: hook_before, spawn, prompt fetch, submit, spawn_ack, hook_after",
      text: table(["shape", "steps", "p50 ms", "p99 ms", "wall ms", "steps/s"], [
        ["sequential", int(SEQUENTIAL), ms(p50), ms(data.sequential.p99Ms), ms(seq.reduce((a, b) => a + b, 0)), int(SEQUENTIAL / (seq.reduce((a, b) => a + b, 0) / 1000))],
        ["concurrent", int(CONCURRENT), ms(data.concurrent.p50Ms), ms(data.concurrent.p99Ms), ms(wall), int(CONCURRENT / (wall / 1000))]
      ]) + `\nworker calls: ${int(stats.answered)} spawns completed, ${stats.other} problems`,
      targets,
      data
    }
  } finally {
    await client.stop()
    await runtime.dispose()
  }
}

export const p2: Bench = { id: "p2", run: runP2 }
