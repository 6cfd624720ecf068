/**
 * The storage benchmarks (P4 with SQLite, P5) as runner entries; the measurements are in
 * p4-sqlite.ts and p5-submit.ts.
 */
import { P4_SQLITE_TARGET, runP4Sqlite } from "./p4-sqlite.js"
import { P5_P99_TARGET_MS, runP5 } from "./p5-submit.js"
import { type Bench, SMOKE } from "./suite.js"
import { int, ms, table } from "./table.js"

export const p4sqlite: Bench = {
  id: "p4sqlite",
  run: async (log) => {
    const r = await runP4Sqlite(log)
    const pass = r.ok && r.stepsPerSec >= P4_SQLITE_TARGET
    return {
      title: "P4 flow engine with SQLite persistence: builtin identity steps in a seq",
      text: table(["steps", "steps/s", "trials steps/s", "target", "status"], [[
        int(r.steps),
        int(r.stepsPerSec),
        r.trials.map(int).join(" / "),
        `>= ${int(P4_SQLITE_TARGET)}`,
        r.ok ? (pass ? "PASS" : "FAIL") : `FAIL (${r.problem})`
      ]]),
      targets: [{
        id: "P4",
        what: `seq of ${int(r.steps)} builtin identity steps, SQLite`,
        target: `>= ${int(P4_SQLITE_TARGET)} steps/s`,
        value: `${int(r.stepsPerSec)} steps/s`,
        pass
      }],
      data: r
    }
  }
}

export const p5: Bench = {
  id: "p5",
  run: async (log) => {
    const [submits, warmup] = SMOKE ? [5, 1] : [1_000, 100]
    const memory = await runP5(log, submits, warmup, "memory")
    const sqlite = await runP5(log, submits, warmup, "sqlite")
    return {
      title: "P5 durable write: worker submit over HTTP",
      text: table(["storage", "submits", "p50 ms", "p99 ms", "max ms"], [memory, sqlite].map((r, i) => [
        i === 0 ? "memory" : "sqlite",
        int(r.submits),
        ms(r.p50Ms),
        ms(r.p99Ms),
        ms(r.maxMs)
      ])),
      targets: [{
        id: "P5",
        what: `worker submit over HTTP, SQLite (memory: p99 ${ms(memory.p99Ms)} ms)`,
        target: `p99 <= ${P5_P99_TARGET_MS} ms`,
        value: `p99 ${ms(sqlite.p99Ms)} ms, p50 ${ms(sqlite.p50Ms)} ms`,
        pass: sqlite.ok && sqlite.p99Ms <= P5_P99_TARGET_MS
      }],
      data: { memory, sqlite }
    }
  }
}
