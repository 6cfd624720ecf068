/**
 * Steps: one execution of one `step` node. Besides the public entry of `GET /v1/runs/:id`
 * the record keeps what the worker endpoints need (prompt payload, submission, staged
 * parts), so a submit is durable once `put` returns.
 */
import { Context, Effect, Layer, Option } from "effect"

export type StepStatus =
  | "waiting_for_operator"
  | "running"
  | "passed"
  | "blocked"
  | "skipped"
  | "failed"
  | "cancelled"

export const isStepFinished = (status: StepStatus): boolean =>
  status !== "waiting_for_operator" && status !== "running"

export type Verdict = "pass" | "blocked" | "skip"

/** What a worker sent for the step (last submit wins). */
export interface Submission {
  readonly value: unknown
  readonly verdict: Verdict
  /** ISO 8601. */
  readonly at: string
}

/** `GET /v1/worker/prompt` body. */
export interface PromptPayload {
  readonly task_id: string
  readonly run_id: string
  readonly attempt: number
  readonly agent: string
  readonly system: string | null
  readonly prompt: unknown
  readonly context: Readonly<Record<string, unknown>>
}

export interface StepRecord {
  readonly step_id: string
  readonly run_id: string
  readonly ref: string
  readonly attempt: number
  readonly status: StepStatus
  readonly started_at: string
  readonly finished_at?: string
  readonly value?: unknown
  readonly error?: string
  readonly stats?: Readonly<Record<string, unknown>>
  // ---- engine-internal, not part of the public step entry ----
  /** Where the step node sits in the blueprint (the evaluator's location). */
  readonly location: string
  readonly input: unknown
  /** Seat of an operator step. */
  readonly seat?: string
  /** The agent's allowed `ok:true` values, checked at submit. */
  readonly verdicts?: ReadonlyArray<string>
  readonly prompt?: PromptPayload
  /** req_id of the spawn in flight; the parent of a worker's `ask`. */
  readonly spawn_req_id?: string
  /** Set once the engine has read the submission: later worker input is refused (410). */
  readonly sealed?: boolean
  readonly submission?: Submission
  readonly parts?: Readonly<Record<string, unknown>>
}

/** The step entry of `GET /v1/runs/:id`: the record without its engine-internal fields. */
export type StepView = Pick<
  StepRecord,
  "step_id" | "ref" | "attempt" | "status" | "started_at" | "finished_at" | "value" | "error" | "stats"
>

export const stepView = (s: StepRecord): StepView => ({
  step_id: s.step_id,
  ref: s.ref,
  attempt: s.attempt,
  status: s.status,
  started_at: s.started_at,
  ...(s.finished_at !== undefined ? { finished_at: s.finished_at } : {}),
  ...(s.value !== undefined ? { value: s.value } : {}),
  ...(s.error !== undefined ? { error: s.error } : {}),
  ...(s.stats !== undefined ? { stats: s.stats } : {})
})

export interface StepRepoShape {
  /** Insert or replace. */
  readonly put: (step: StepRecord) => Effect.Effect<void>
  readonly get: (stepId: string) => Effect.Effect<Option.Option<StepRecord>>
  /** In the order the steps were first stored. */
  readonly listByRun: (runId: string) => Effect.Effect<ReadonlyArray<StepRecord>>
}

export class StepRepo extends Context.Tag("swarmgate/StepRepo")<StepRepo, StepRepoShape>() {
  static readonly memory: Layer.Layer<StepRepo> = Layer.sync(StepRepo, () => {
    const byId = new Map<string, StepRecord>()
    const byRun = new Map<string, Map<string, StepRecord>>()
    return {
      put: (step) =>
        Effect.sync(() => {
          byId.set(step.step_id, step)
          const run = byRun.get(step.run_id) ?? new Map<string, StepRecord>()
          byRun.set(step.run_id, run.set(step.step_id, step))
        }),
      get: (stepId) => Effect.sync(() => Option.fromNullable(byId.get(stepId))),
      listByRun: (runId) => Effect.sync(() => [...(byRun.get(runId)?.values() ?? [])])
    }
  })
}
