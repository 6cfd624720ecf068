/** How a step ended, as an agent reports it; the Dispatcher turns it into the step record. */
export interface Outcome {
  readonly status: "passed" | "blocked" | "skipped" | "failed"
  readonly value?: unknown
  readonly error?: string
  readonly stats?: Readonly<Record<string, unknown>>
}

export const passed = (value: unknown, stats?: Readonly<Record<string, unknown>>): Outcome => ({
  status: "passed",
  value,
  ...(stats !== undefined ? { stats } : {})
})

export const blocked = (value: unknown, error: string, stats?: Readonly<Record<string, unknown>>): Outcome => ({
  status: "blocked",
  value,
  error,
  ...(stats !== undefined ? { stats } : {})
})

export const failed = (error: string): Outcome => ({ status: "failed", error })
