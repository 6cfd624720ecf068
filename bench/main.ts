/**
 * `npm run bench`: P1 and P4 of quality.md, a table on stdout and `bench/results.json`.
 * `--only=p1` or `--only=p4` runs one of them (for profiling). Exits 0 whatever the
 * targets say; a crash of the bench itself exits 1.
 */
import { type P1Report, runP1 } from "./p1-roundtrip.js"
import { type P4Row, runP4 } from "./p4-engine.js"
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
  const results: Results = {
    generatedAt: new Date().toISOString(),
    machine: machine(),
    ...(p1 === undefined ? {} : { p1 }),
    ...(p4 === undefined ? {} : { p4 }),
    targets: targetsOf(p1, p4),
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
