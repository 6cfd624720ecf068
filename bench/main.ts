/**
 * `npm run bench`: P1, P4 (memory and SQLite) and P5 of quality.md, a table on stdout and
 * `bench/results.json`. `--only=p1`, `p4`, `p4sqlite` or `p5` (comma-separated) runs some of them. Exits 0 whatever the
 * targets say; a crash of the bench itself exits 1.
 */
import { type P1Report, runP1 } from "./p1-roundtrip.js"
import { type P4Row, runP4 } from "./p4-engine.js"
import { P4_SQLITE_TARGET, type P4SqliteRow, runP4Sqlite } from "./p4-sqlite.js"
import { P5_P99_TARGET_MS, type P5Report, runP5 } from "./p5-submit.js"
import { machine, notImplemented, render, type Results, targetsOf, writeResults } from "./report.js"

const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",")
const wanted = (id: string) => only === undefined || only.includes(id)

const started = performance.now()
const log = (line: string) => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`)
}

const main = async () => {
  const p1: P1Report | undefined = wanted("p1") ? await runP1(log) : undefined
  const p4: ReadonlyArray<P4Row> | undefined = wanted("p4") ? await runP4(log) : undefined
  const p4sqlite: P4SqliteRow | undefined = wanted("p4sqlite") ? await runP4Sqlite(log) : undefined
  const p5: { sqlite: P5Report; memory: P5Report } | undefined = wanted("p5")
    ? { memory: await runP5(log, 1_000, 100, "memory"), sqlite: await runP5(log, 1_000, 100, "sqlite") }
    : undefined
  const results: Results = {
    generatedAt: new Date().toISOString(),
    machine: machine(),
    ...(p1 === undefined ? {} : { p1 }),
    ...(p4 === undefined ? {} : { p4 }),
    ...(p4sqlite === undefined ? {} : { p4sqlite }),
    ...(p5 === undefined ? {} : { p5 }),
    targets: [
      ...targetsOf(p1, p4),
      ...(p4sqlite === undefined ? [] : [{
        id: "P4",
        what: `seq of ${p4sqlite.steps.toLocaleString("en-US")} builtin identity steps, SQLite`,
        target: `>= ${P4_SQLITE_TARGET.toLocaleString("en-US")} steps/s`,
        value: `${Math.round(p4sqlite.stepsPerSec).toLocaleString("en-US")} steps/s`,
        pass: p4sqlite.ok && p4sqlite.stepsPerSec >= P4_SQLITE_TARGET
      }]),
      ...(p5 === undefined ? [] : [{
        id: "P5",
        what: `worker submit over HTTP, SQLite (memory: p99 ${p5.memory.p99Ms.toFixed(2)} ms)`,
        target: `p99 <= ${P5_P99_TARGET_MS} ms`,
        value: `p99 ${p5.sqlite.p99Ms.toFixed(2)} ms, p50 ${p5.sqlite.p50Ms.toFixed(2)} ms`,
        pass: p5.sqlite.ok && p5.sqlite.p99Ms <= P5_P99_TARGET_MS
      }])
    ],
    notImplemented
  }
  const path = new URL("./results.json", import.meta.url)
  await writeResults(path, results)
  process.stdout.write(render(results) + "\n")
  log(`done; wrote ${path.pathname}`)
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
