/** How a step ended, as an agent reports it; the Dispatcher turns it into the step record. */
export interface Outcome {
  readonly status: "passed" | "blocked" | "skipped" | "failed"
  readonly value?: unknown
  readonly error?: string
  readonly stats?: Readonly<Record<string, unknown>>
  /** An operator step's value: from the worker's submit, or from the spawn_ack (no submit). */
  readonly source?: "submit" | "spawn_ack"
}

type Stats = Readonly<Record<string, unknown>> | undefined

/** An empty `stats` object says nothing: dropped, not kept. */
const statsField = (stats: Stats) => stats !== undefined && Object.keys(stats).length > 0 ? { stats } : {}

export const passed = (value: unknown, stats?: Stats): Outcome => ({ status: "passed", value, ...statsField(stats) })

export const blocked = (value: unknown, error: string, stats?: Stats): Outcome => ({
  status: "blocked",
  value,
  error,
  ...statsField(stats)
})

export const skipped = (value: unknown, stats?: Stats): Outcome => ({ status: "skipped", value, ...statsField(stats) })

export const failed = (error: string): Outcome => ({ status: "failed", error })
