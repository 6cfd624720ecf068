/**
 * P4 flow engine: `builtin identity` steps through the real Runs service with
 * every repository in memory — a `seq` of 10,000 and a `fanout` (join all) of 1,000 —
 * timed from `launch` to `awaitEnd`. Each trial gets a fresh engine so stored runs of
 * earlier trials do not weigh on later ones.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import type { FlowNode, StepNode } from "../src/protocol/blueprint.js"
import { EngineLive } from "../src/layers/Engine.js"
import { MemoryStorage } from "../src/layers/MemoryStorage.js"
import { EngineConfig } from "../src/services/EngineConfig.js"
import { Runs } from "../src/services/Runs.js"
import { SessionDirectory } from "../src/services/SessionDirectory.js"
import { Sessions } from "../src/services/Sessions.js"
import type { Bench, Log, Section } from "./suite.js"
import { int, ms, table } from "./table.js"
import { asServed } from "./served.js"

export type P4Shape = "seq" | "fanout"

export interface P4Case {
  readonly shape: P4Shape
  readonly steps: number
  readonly trials: number
}

export interface P4Row {
  readonly shape: P4Shape
  readonly steps: number
  /** Of the median trial. */
  readonly elapsedMs: number
  readonly stepsPerSec: number
  readonly trials: ReadonlyArray<number>
  /** Every trial ended `done` with one passed step record per step. */
  readonly ok: boolean
  readonly problem?: string
}

export const defaultCases: ReadonlyArray<P4Case> = [
  { shape: "seq", steps: 10_000, trials: 3 },
  { shape: "fanout", steps: 1_000, trials: 5 }
]

const warmupCases: ReadonlyArray<P4Case> = [
  { shape: "seq", steps: 2_000, trials: 2 },
  { shape: "fanout", steps: 500, trials: 2 }
]

/** A run that has not ended by then is cancelled and the trial reported as failed. */
const runCapMs = 60_000

const engineLayer = EngineLive.pipe(
  Layer.provideMerge(SessionDirectory.fromSessions),
  Layer.provideMerge(Layer.orDie(Sessions.layer())),
  Layer.provideMerge(MemoryStorage),
  Layer.provideMerge(EngineConfig.layer({ publicUrl: "http://127.0.0.1:7777" })),
  asServed
)

const identityStep = (at: string, out: string): StepNode => ({ kind: "step", ref: "id", in: { op: "path", at }, out })

const blueprintOf = (shape: P4Shape, steps: number) => {
  const flow: FlowNode = shape === "seq"
    ? { kind: "seq", children: Array.from({ length: steps }, () => identityStep("$.x", "$.x")) }
    : {
      kind: "fanout",
      items: { op: "path", at: "$.items" },
      bind: "$.item",
      body: identityStep("$.item", "$.r"),
      join: "all",
      out: "$.results"
    }
  return {
    blueprint: { id: `bench-p4-${shape}`, agents: [{ name: "id", kind: "builtin", fn: "identity" }], flow },
    input: shape === "seq" ? { x: 1 } : { items: Array.from({ length: steps }, (_, i) => i) }
  }
}

interface Trial {
  readonly elapsedMs: number
  readonly problem?: string
}

const trial = (shape: P4Shape, steps: number): Promise<Trial> => {
  const { blueprint, input } = blueprintOf(shape, steps)
  const runtime = ManagedRuntime.make(engineLayer)
  const program = Effect.gen(function*() {
    const runs = yield* Runs
    const start = performance.now()
    const { run_id } = yield* runs.launch({ blueprint, input })
    const ended = yield* runs.awaitEnd(run_id).pipe(Effect.timeoutOption(runCapMs))
    const elapsedMs = performance.now() - start
    if (ended._tag === "None") {
      yield* runs.cancel(run_id).pipe(Effect.ignore)
      return { elapsedMs, problem: `not done within ${runCapMs} ms (cancelled)` }
    }
    const run = ended.value
    const passed = run.steps.filter((s) => s.status === "passed").length
    if (run.status !== "done" || passed !== steps) {
      return {
        elapsedMs,
        problem: `run ended ${run.status} with ${passed}/${steps} passed steps${
          run.error === undefined ? "" : `: ${run.error.message}`
        }`
      }
    }
    return { elapsedMs }
  })
  return runtime.runPromise(program).finally(() => runtime.dispose())
}

const runCase = async (c: P4Case, log: (line: string) => void): Promise<P4Row> => {
  const trials: Array<Trial> = []
  for (let t = 0; t < c.trials; t++) {
    trials.push(await trial(c.shape, c.steps))
    const last = trials.at(-1)!
    log(
      `P4 ${c.shape} of ${c.steps}, trial ${t + 1}/${c.trials}: ${Math.round(last.elapsedMs)} ms, ${
        Math.round(c.steps / (last.elapsedMs / 1000))
      } steps/s${last.problem === undefined ? "" : ` (${last.problem})`}`
    )
  }
  const sorted = [...trials].sort((a, b) => a.elapsedMs - b.elapsedMs)
  const mid = sorted[Math.floor(sorted.length / 2)]!
  const problem = trials.find((t) => t.problem !== undefined)?.problem
  return {
    shape: c.shape,
    steps: c.steps,
    elapsedMs: mid.elapsedMs,
    stepsPerSec: c.steps / (mid.elapsedMs / 1000),
    trials: trials.map((t) => c.steps / (t.elapsedMs / 1000)),
    ok: problem === undefined,
    ...(problem === undefined ? {} : { problem })
  }
}

export const P4_STEPS_PER_SEC_TARGET = 20_000

export const runP4 = async (log: Log, cases: ReadonlyArray<P4Case> = defaultCases): Promise<Section> => {
  log("P4 warm-up")
  for (const c of warmupCases) await runCase(c, () => {})
  const rows: Array<P4Row> = []
  for (const c of cases) rows.push(await runCase(c, log))
  const pass = (r: P4Row) => r.ok && r.stepsPerSec >= P4_STEPS_PER_SEC_TARGET
  return {
    title: "P4 flow engine: builtin identity steps through Runs (launch -> awaitEnd), memory storage",
    text: table(
      ["flow", "steps", "elapsed ms", "steps/s", "trials steps/s", "target", "status"],
      rows.map((r) => [
        r.shape,
        int(r.steps),
        ms(r.elapsedMs),
        int(r.stepsPerSec),
        r.trials.map(int).join(" / "),
        `>= ${int(P4_STEPS_PER_SEC_TARGET)}`,
        r.ok ? (pass(r) ? "PASS" : "FAIL") : `FAIL (${r.problem})`
      ])
    ),
    targets: rows.map((r) => ({
      id: "P4",
      what: `${r.shape} of ${int(r.steps)} builtin identity steps, memory`,
      target: `>= ${int(P4_STEPS_PER_SEC_TARGET)} steps/s`,
      value: `${int(r.stepsPerSec)} steps/s`,
      pass: pass(r)
    })),
    data: rows
  }
}

export const p4: Bench = { id: "p4", run: (log) => runP4(log) }
