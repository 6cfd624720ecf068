/** The printed table and `bench/results.json`. */
import { writeFile } from "node:fs/promises"
import { arch, cpus, platform } from "node:os"
import type { P1Report } from "./p1-roundtrip.js"
import type { P4Row } from "./p4-engine.js"

export const P1_RATIO_TARGET = 0.75
export const P1_TARGET_IN_FLIGHT = 64
export const P4_STEPS_PER_SEC_TARGET = 20_000

export interface Target {
  readonly id: string
  readonly what: string
  readonly target: string
  readonly value: string
  readonly pass: boolean
}

export interface Results {
  readonly generatedAt: string
  readonly machine: Record<string, unknown>
  readonly p1?: P1Report
  readonly p4?: ReadonlyArray<P4Row>
  readonly p4sqlite?: unknown
  readonly p5?: unknown
  readonly targets: ReadonlyArray<Target>
  readonly notImplemented: ReadonlyArray<string>
}

export const notImplemented = [
  "P2 full operator step (hook_before, spawn, prompt fetch, submit, spawn_ack, hook_after)",
  "P3 sessions at scale (10,000 idle sessions; 1,000 sessions x 10 outstanding requests)"
]

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-")
const ms = (n: number) => (Number.isFinite(n) ? n < 10 ? n.toFixed(3) : n.toFixed(1) : "-")

export const machine = () => {
  const list = cpus()
  return {
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cpus: list.length,
    cpuModel: list[0]?.model ?? "unknown"
  }
}

export const targetsOf = (p1: P1Report | undefined, p4: ReadonlyArray<P4Row> | undefined): Array<Target> => {
  const targets: Array<Target> = []
  const row = p1?.rows.find((r) => r.inFlight === P1_TARGET_IN_FLIGHT)
  if (row !== undefined) {
    targets.push({
      id: "P1",
      what: `ask round trip, ${P1_TARGET_IN_FLIGHT} in flight`,
      target: `>= ${P1_RATIO_TARGET} x baseline req/s`,
      value: `${row.ratio.toFixed(2)} x (${int(row.real.reqPerSec)} vs ${int(row.baseline.reqPerSec)} req/s)`,
      pass: row.ratio >= P1_RATIO_TARGET && row.real.failed === 0 && row.real.lost === 0
    })
  }
  for (const r of p4 ?? []) {
    targets.push({
      id: "P4",
      what: `${r.shape} of ${int(r.steps)} builtin identity steps, memory`,
      target: `>= ${int(P4_STEPS_PER_SEC_TARGET)} steps/s`,
      value: `${int(r.stepsPerSec)} steps/s`,
      pass: r.ok && r.stepsPerSec >= P4_STEPS_PER_SEC_TARGET
    })
  }
  return targets
}

/** The first `leftColumns` columns are aligned left, the rest (numbers) right. */
const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  leftColumns = 1
): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

export const render = (results: Results): string => {
  const out: Array<string> = []
  const m = results.machine
  out.push(`swarmgate bench — ${m.node}, ${m.platform}, ${m.cpus} cpus (${m.cpuModel})`)
  if (results.p1 !== undefined) {
    const p1 = results.p1
    out.push("")
    out.push("P1 request round trip: engine-side ask -> real session -> WebSocket -> client process -> answer")
    out.push(
      table(
        ["in flight", "real req/s", "p50 ms", "p99 ms", "base req/s", "p50 ms", "p99 ms", "ratio", "target", "status"],
        p1.rows.map((r) => {
          const targeted = r.inFlight === P1_TARGET_IN_FLIGHT
          const pass = r.ratio >= P1_RATIO_TARGET && r.real.failed === 0 && r.real.lost === 0
          return [
            String(r.inFlight),
            int(r.real.reqPerSec),
            ms(r.real.p50Ms),
            ms(r.real.p99Ms),
            int(r.baseline.reqPerSec),
            ms(r.baseline.p50Ms),
            ms(r.baseline.p99Ms),
            `${r.ratio.toFixed(2)}x`,
            targeted ? `>= ${P1_RATIO_TARGET}x` : "-",
            targeted ? (pass ? "PASS" : "FAIL") : "info"
          ]
        })
      )
    )
    const issues = p1.rows.flatMap((r) =>
      [
        r.real.failed + r.real.lost > 0 ? `real ${r.inFlight}: ${r.real.failed} failed, ${r.real.lost} lost` : "",
        r.baseline.failed + r.baseline.lost > 0
          ? `baseline ${r.inFlight}: ${r.baseline.failed} failed, ${r.baseline.lost} lost`
          : "",
        r.real.timeCapped || r.baseline.timeCapped ? `${r.inFlight} in flight: stopped by the time cap` : ""
      ].filter((s) => s !== "")
    )
    out.push(
      `client answered ${int(p1.client.answered)} asks (${p1.client.other} other frames); ` +
        `left pending: real ${p1.leftPending.real}, baseline ${p1.leftPending.baseline}` +
        (issues.length > 0 ? `; ${issues.join("; ")}` : "")
    )
  }
  if (results.p4 !== undefined) {
    out.push("")
    out.push("P4 flow engine: builtin identity steps through Runs (launch -> awaitEnd), memory storage")
    out.push(
      table(
        ["flow", "steps", "elapsed ms", "steps/s", "trials steps/s", "target", "status"],
        results.p4.map((r) => [
          r.shape,
          int(r.steps),
          ms(r.elapsedMs),
          int(r.stepsPerSec),
          r.trials.map(int).join(" / "),
          `>= ${int(P4_STEPS_PER_SEC_TARGET)}`,
          r.ok ? (r.stepsPerSec >= P4_STEPS_PER_SEC_TARGET ? "PASS" : "FAIL") : `FAIL (${r.problem})`
        ])
      )
    )
  }
  out.push("")
  out.push("Targets")
  out.push(table(["id", "what", "target", "measured", "status"], results.targets.map((t) => [
    t.id,
    t.what,
    t.target,
    t.value,
    t.pass ? "PASS" : "FAIL"
  ]), 5))
  out.push("")
  out.push("Not measured yet: " + results.notImplemented.join("; ") + ".")
  out.push(
    "The numbers are information: absolute times depend on the machine, only the ratios are targets, " +
      "and the bench exits 0 whether a target passes or fails."
  )
  return out.join("\n")
}

export const writeResults = (path: URL, results: Results) =>
  writeFile(path, JSON.stringify(results, null, 2) + "\n", "utf8")
