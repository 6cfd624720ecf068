/**
 * What one benchmark hands the runner. A new benchmark is one file exporting a `Bench`
 * and one line in `main.ts`'s list; the runner prints its table, collects its targets into
 * the summary and stores its `data` under its id in `bench/results.json`.
 */
export interface Target {
  readonly id: string
  readonly what: string
  readonly target: string
  readonly value: string
  readonly pass: boolean
}

export interface Section {
  /** Heading line printed above the table. */
  readonly title: string
  /** The rendered table (and any notes), printed as is. */
  readonly text: string
  readonly targets: ReadonlyArray<Target>
  /** Everything measured, for results.json. */
  readonly data: unknown
}

export type Log = (line: string) => void

export interface Bench {
  /** Short id, used by `--only=` and as the key in results.json (p1, p1b, p2, ...). */
  readonly id: string
  readonly run: (log: Log) => Promise<Section>
}

/**
 * `BENCH_SMOKE=1`: every benchmark that supports it runs its preparation and a handful of
 * requests only, and nothing is written to results.json. The test suite runs it
 * (test/bench/smoke.test.ts) so that a change to the server can never silently break the bench.
 */
export const SMOKE = process.env.BENCH_SMOKE === "1"
