/**
 * `npm run bench`: the Performance section of the spec. Each benchmark prints its table
 * as it finishes; the summary of every target follows, and `bench/results.json` holds all
 * of it. `--only=p1,p4` runs some of them (for profiling). To add a benchmark, export a
 * `Bench` (suite.ts) from its file and list it below.
 */
import { p1 } from "./p1-roundtrip.js"
import { p1b } from "./p1b-blackbox.js"
import { p2 } from "./p2-step.js"
import { p3 } from "./p3-sessions.js"
import { p4 } from "./p4-engine.js"
import { p4sqlite, p5 } from "./storage.js"
import { header, machine, renderSection, renderSummary, type Results, writeResults } from "./report.js"
import { type Bench, SMOKE, type Target } from "./suite.js"

const benches: ReadonlyArray<Bench> = [p1, p1b, p2, p3, p4, p4sqlite, p5]

const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",")
const wanted = (id: string) => only === undefined || only.includes(id)

const started = performance.now()
const log = (line: string) => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`)
}

const main = async () => {
  const m = machine()
  process.stdout.write(header(m) + "\n")
  const data: Record<string, unknown> = {}
  const targets: Array<Target> = []
  const broken: Record<string, string> = {}
  for (const bench of benches.filter((b) => wanted(b.id))) {
    try {
      const section = await bench.run(log)
      data[bench.id] = section.data
      targets.push(...section.targets)
      process.stdout.write("\n" + renderSection(section) + "\n")
    } catch (error) {
      broken[bench.id] = error instanceof Error ? error.message : String(error)
      log(`${bench.id} broke: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
    }
  }
  const results: Results = {
    generatedAt: new Date().toISOString(),
    machine: m,
    elapsedSec: (performance.now() - started) / 1000,
    benches: data,
    targets,
    broken
  }
  const path = new URL("./results.json", import.meta.url)
  // a smoke run measures nothing worth keeping
  if (!SMOKE) await writeResults(path, results)
  process.stdout.write("\n" + renderSummary(results) + "\n")
  log(`done in ${results.elapsedSec.toFixed(0)} s${SMOKE ? " (smoke run: nothing written)" : `; wrote ${path.pathname}`}`)
  if (Object.keys(broken).length > 0) process.exitCode = 1
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
