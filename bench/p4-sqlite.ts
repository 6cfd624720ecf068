/**
 * P4 with SQLite persistence on (quality.md): the same `seq` of `builtin identity` steps as
 * P4 in memory (`p4-engine.ts`), through the real Runs service, with every repository on a
 * SQLite file in a fresh temp dir (WAL, the storage `serve` uses by default). Timed from
 * `launch` to `awaitEnd`; every step record, event and run record is written on the way.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EngineLive } from "../src/layers/Engine.js"
import { SqliteStorage } from "../src/layers/SqliteStorage.js"
import type { FlowNode } from "../src/protocol/blueprint.js"
import { EngineConfig } from "../src/services/EngineConfig.js"
import { Runs } from "../src/services/Runs.js"
import { SessionDirectory } from "../src/services/SessionDirectory.js"
import { Sessions } from "../src/services/Sessions.js"
import { asServed } from "./served.js"

export const P4_SQLITE_TARGET = 2_000

export interface P4SqliteRow {
  readonly steps: number
  /** Of the median trial. */
  readonly stepsPerSec: number
  readonly trials: ReadonlyArray<number>
  readonly ok: boolean
  readonly problem?: string
}

const engineOver = (dataDir: string) =>
  EngineLive.pipe(
    Layer.provideMerge(SessionDirectory.fromSessions),
    Layer.provideMerge(Layer.orDie(Sessions.layer())),
    Layer.provideMerge(Layer.orDie(SqliteStorage(dataDir))),
    Layer.provideMerge(EngineConfig.layer({ publicUrl: "http://127.0.0.1:7777" })),
    asServed
  )

const blueprintOf = (steps: number) => {
  const flow: FlowNode = {
    kind: "seq",
    children: Array.from({ length: steps }, () => ({ kind: "step", ref: "id", in: { op: "path", at: "$.x" }, out: "$.x" }))
  }
  return { id: "bench-p4-sqlite", agents: [{ name: "id", kind: "builtin", fn: "identity" }], flow }
}

const trial = async (steps: number): Promise<{ readonly elapsedMs: number; readonly problem?: string }> => {
  const dir = mkdtempSync(join(tmpdir(), "swarmgate-bench-p4-"))
  const runtime = ManagedRuntime.make(engineOver(join(dir, "data")))
  try {
    return await runtime.runPromise(Effect.gen(function*() {
      const runs = yield* Runs
      const start = performance.now()
      const { run_id } = yield* runs.launch({ blueprint: blueprintOf(steps), input: { x: 1 } })
      const run = yield* runs.awaitEnd(run_id)
      const elapsedMs = performance.now() - start
      const passed = run.steps.filter((s) => s.status === "passed").length
      return run.status === "done" && passed === steps
        ? { elapsedMs }
        : { elapsedMs, problem: `run ended ${run.status} with ${passed}/${steps} passed steps` }
    }))
  } finally {
    await runtime.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

export const runP4Sqlite = async (log: (line: string) => void, steps = 10_000, trials = 3): Promise<P4SqliteRow> => {
  log("P4 SQLite warm-up")
  await trial(1_000)
  const results: Array<{ readonly elapsedMs: number; readonly problem?: string }> = []
  for (let t = 0; t < trials; t++) {
    const r = await trial(steps)
    results.push(r)
    log(`P4 SQLite seq of ${steps}, trial ${t + 1}/${trials}: ${Math.round(r.elapsedMs)} ms, ${
      Math.round(steps / (r.elapsedMs / 1000))
    } steps/s${r.problem === undefined ? "" : ` (${r.problem})`}`)
  }
  const rates = results.map((r) => steps / (r.elapsedMs / 1000))
  const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!
  const problem = results.find((r) => r.problem !== undefined)?.problem
  return { steps, stepsPerSec: median, trials: rates, ok: problem === undefined, ...(problem === undefined ? {} : { problem }) }
}
