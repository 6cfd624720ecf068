/** The printed summary and `bench/results.json`. */
import { writeFile } from "node:fs/promises"
import { arch, cpus, platform } from "node:os"
import type { Section, Target } from "./suite.js"
import { table } from "./table.js"

export interface Results {
  readonly generatedAt: string
  readonly machine: Record<string, unknown>
  readonly elapsedSec: number
  /** Each benchmark's data under its id. */
  readonly benches: Record<string, unknown>
  readonly targets: ReadonlyArray<Target>
  /** Benchmarks that crashed, with the message. */
  readonly broken: Record<string, string>
}

export const machine = () => {
  const list = cpus()
  return {
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cpus: list.length,
    cpuModel: list[0]?.model ?? "unknown"
  }
}

export const header = (m: ReturnType<typeof machine>) =>
  `swarmgate bench — ${m.node}, ${m.platform}, ${m.cpus} cpus (${m.cpuModel})`

export const renderSection = (section: Section) => `${section.title}\n${section.text}`

export const renderSummary = (results: Results): string => {
  const out: Array<string> = ["Targets"]
  out.push(table(["id", "what", "target", "measured", "status"], results.targets.map((t) => [
    t.id,
    t.what,
    t.target,
    t.value,
    t.pass ? "PASS" : "FAIL"
  ]), 5))
  for (const [id, message] of Object.entries(results.broken)) out.push(`${id}: BROKEN (${message})`)
  out.push("")
  out.push(
    "Absolute times depend on the machine; only the ratios (and the P2/P3/P4 figures) are targets. " +
      "The bench exits 0 whether a target passes or fails, 1 only when a benchmark itself broke."
  )
  return out.join("\n")
}

export const writeResults = (path: URL, results: Results) =>
  writeFile(path, JSON.stringify(results, null, 2) + "\n", "utf8")
