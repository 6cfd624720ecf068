/**
 * Closed-loop load: `inFlight` workers, each issuing its next request as soon as the
 * previous one is answered, until `total` were issued or `maxMs` passed. Every loop is
 * bounded in count and in time; a watchdog gives up on requests that never come back.
 */
import { Effect } from "effect"
import { int } from "./table.js"

export interface LoadSpec {
  readonly inFlight: number
  readonly total: number
  /** Stop issuing after this long; requests already out are still awaited (up to the watchdog). */
  readonly maxMs: number
}

export interface LoadResult {
  readonly inFlight: number
  readonly completed: number
  readonly failed: number
  /** Requests given up on by the watchdog. */
  readonly lost: number
  readonly elapsedMs: number
  readonly reqPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** True when `maxMs` cut the run short of `total`. */
  readonly timeCapped: boolean
}

/** Grace after `maxMs` before requests still out count as lost. */
const watchdogMs = 10_000

export const percentile = (sorted: Float64Array, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

const summarize = (
  spec: LoadSpec,
  latencies: Float64Array,
  completed: number,
  failed: number,
  lost: number,
  issued: number,
  elapsedMs: number
): LoadResult => {
  const sorted = latencies.slice(0, completed).sort()
  return {
    inFlight: spec.inFlight,
    completed,
    failed,
    lost,
    elapsedMs,
    reqPerSec: completed / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    timeCapped: issued < spec.total
  }
}

/** Promise-based load (the baseline). */
export const loadPromise = async (
  spec: LoadSpec,
  request: (n: number) => Promise<unknown>
): Promise<LoadResult> => {
  const latencies = new Float64Array(spec.total)
  let issued = 0
  let completed = 0
  let failed = 0
  const start = performance.now()
  const deadline = start + spec.maxMs
  const worker = async () => {
    while (issued < spec.total && performance.now() < deadline) {
      const n = issued++
      const t0 = performance.now()
      try {
        await request(n)
        latencies[completed++] = performance.now() - t0
      } catch {
        failed += 1
      }
    }
  }
  let timer: NodeJS.Timeout | undefined
  const watchdog = new Promise<"lost">((resolve) => (timer = setTimeout(() => resolve("lost"), spec.maxMs + watchdogMs)))
  await Promise.race([Promise.all(Array.from({ length: spec.inFlight }, worker)), watchdog])
  clearTimeout(timer)
  const elapsedMs = performance.now() - start
  return summarize(spec, latencies, completed, failed, issued - completed - failed, issued, elapsedMs)
}

/** Effect-based load (the real server: requests issued from fibers, as the engine does). */
export const loadEffect = <E>(
  spec: LoadSpec,
  request: (n: number) => Effect.Effect<unknown, E>
): Effect.Effect<LoadResult> =>
  Effect.suspend(() => {
    const latencies = new Float64Array(spec.total)
    let issued = 0
    let completed = 0
    let failed = 0
    const start = performance.now()
    const deadline = start + spec.maxMs
    const worker = Effect.gen(function*() {
      while (issued < spec.total && performance.now() < deadline) {
        const n = issued++
        const t0 = performance.now()
        const ok = yield* Effect.match(request(n), { onFailure: () => false, onSuccess: () => true })
        if (ok) latencies[completed++] = performance.now() - t0
        else failed += 1
      }
    })
    return Effect.forEach(Array.from({ length: spec.inFlight }), () => worker, {
      concurrency: "unbounded",
      discard: true
    }).pipe(
      // interrupting a request still owed sends the operator a `cancel` (the session's release)
      Effect.timeoutOption(spec.maxMs + watchdogMs),
      Effect.map(() =>
        summarize(spec, latencies, completed, failed, issued - completed - failed, issued, performance.now() - start)
      )
    )
  })

/** The median trial by req/s. */
export const medianOf = <R extends LoadResult>(results: ReadonlyArray<R>): R =>
  [...results].sort((a, b) => a.reqPerSec - b.reqPerSec)[Math.floor(results.length / 2)]!

export interface TrialCase extends LoadSpec {
  readonly trials: number
}

export interface TrialRow<C extends string, R extends LoadResult = LoadResult> {
  readonly inFlight: number
  /** The median trial of each contender. */
  readonly results: Readonly<Record<C, R>>
  readonly trials: Readonly<Record<C, ReadonlyArray<number>>>
}

/**
 * The latency loop every round-trip bench shares: each warm-up spec once per contender, then
 * per case `trials` rounds in which every contender runs once in turn (so a noisy moment hits
 * all of them), the median trial kept. `label` prefixes the progress lines.
 */
export const runTrials = async <C extends string, R extends LoadResult>(options: {
  readonly label: string
  readonly contenders: ReadonlyArray<C>
  readonly warmup: ReadonlyArray<LoadSpec>
  readonly cases: ReadonlyArray<TrialCase>
  readonly run: (contender: C, spec: LoadSpec) => Promise<R>
  readonly log: (line: string) => void
}): Promise<Array<TrialRow<C, R>>> => {
  const { cases, contenders, label, log, run, warmup } = options
  const byContender = <V>(f: (c: C) => V) => Object.fromEntries(contenders.map((c) => [c, f(c)])) as Record<C, V>
  log(`${label} warm-up`)
  for (const spec of warmup) for (const c of contenders) await run(c, spec)
  const rows: Array<TrialRow<C, R>> = []
  for (const k of cases) {
    const trials = byContender((): Array<R> => [])
    for (let t = 0; t < k.trials; t++) {
      for (const c of contenders) trials[c].push(await run(c, k))
      log(`${label} ${k.inFlight} in flight, trial ${t + 1}/${k.trials}: ` +
        contenders.map((c) => `${c} ${int(trials[c].at(-1)!.reqPerSec)}`).join(", ") +
        " req/s")
    }
    rows.push({
      inFlight: k.inFlight,
      results: byContender((c) => medianOf(trials[c])),
      trials: byContender((c) => trials[c].map((r) => r.reqPerSec))
    })
  }
  return rows
}
