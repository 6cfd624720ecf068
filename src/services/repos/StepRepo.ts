/**
 * Steps: one execution of one `step` node. Besides the public entry of `GET /v1/runs/:id`
 * the record keeps what the worker endpoints need (prompt payload, submission, staged
 * parts), so a submit is durable once `put` returns.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { RunId, StepId } from "../../protocol/ids.js"
import {
  isStepFinished,
  type PromptPayload,
  type StepRecord,
  type StepStatus,
  stepView,
  type StepView,
  type Submission,
  type Verdict
} from "../../protocol/records.js"

export { isStepFinished, stepView }
export type { PromptPayload, StepRecord, StepStatus, StepView, Submission, Verdict }

export interface StepRepoShape {
  /** Insert or replace. */
  readonly put: (step: StepRecord) => Effect.Effect<void>
  readonly get: (stepId: StepId) => Effect.Effect<Option.Option<StepRecord>>
  /** In the order the steps were first stored. */
  readonly listByRun: (runId: RunId) => Effect.Effect<ReadonlyArray<StepRecord>>
}

export class StepRepo extends Context.Tag("swarmgate/StepRepo")<StepRepo, StepRepoShape>() {
  static readonly memory: Layer.Layer<StepRepo> = Layer.sync(StepRepo, () => {
    const byId = new Map<StepId, StepRecord>()
    const byRun = new Map<RunId, Map<StepId, StepRecord>>()
    return {
      put: (step) =>
        Effect.sync(() => {
          byId.set(step.step_id, step)
          const run = byRun.get(step.run_id) ?? new Map<StepId, StepRecord>()
          byRun.set(step.run_id, run.set(step.step_id, step))
        }),
      get: (stepId) => Effect.sync(() => Option.fromNullable(byId.get(stepId))),
      listByRun: (runId) => Effect.sync(() => [...(byRun.get(runId)?.values() ?? [])])
    }
  })
}
