/**
 * Runs one `step` node for a run: finds the agent, keeps the step record and its events,
 * runs the agent by kind, and maps how it ended to what the flow evaluator expects.
 *
 * `attempt` counts dispatches of the same step node (its location in the blueprint) within
 * the run, from 1. On resume, a step that passed before (same node, attempt and input) is not
 * dispatched again: its stored value is reused; an unfinished one keeps its step id, so a
 * worker still holding its credential can submit.
 */
import { Clock, Context, Effect, Either, Layer, Option, type Ref } from "effect"
import type { Blueprint } from "../protocol/blueprint.js"
import { newStepId, type RunId, type StepId, type TaskId } from "../protocol/ids.js"
import { runBuiltin } from "./agents/builtin.js"
import { runOperatorStep, type OperatorStepDeps } from "./agents/operator.js"
import { failed, type Outcome } from "./agents/outcome.js"
import { runSubprocess } from "./agents/subprocess.js"
import { type Dispatch, StepFailure } from "./flow/evaluate.js"
import { isStepFinished, type StepRecord, StepRepo } from "./repos/StepRepo.js"
import { RunEvents } from "./RunEvents.js"
import { StepGate } from "./StepGate.js"
import { renderTemplate } from "./template.js"

export interface RunContext {
  readonly runId: RunId
  readonly taskId: TaskId
  readonly blueprint: Blueprint
  /**
   * True once the run is being cancelled: an interrupted step is then recorded `cancelled`.
   * Otherwise (server stopping) it is left as it is, for resume.
   */
  readonly cancelling: Ref.Ref<boolean>
  /** Step records of this run from before a restart (resume). */
  readonly previous?: ReadonlyArray<StepRecord>
}

export interface DispatcherShape {
  /** The dispatch function for one execution of a run (it owns the attempt counters). */
  readonly forRun: (run: RunContext) => Effect.Effect<Dispatch<never>>
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

export class Dispatcher extends Context.Tag("swarmgate/Dispatcher")<Dispatcher, DispatcherShape>() {
  static readonly layer: Layer.Layer<Dispatcher, never, OperatorStepDeps> = Layer.effect(
    Dispatcher,
    Effect.gen(function*() {
      const deps = yield* Effect.context<OperatorStepDeps>()
      const steps = yield* StepRepo
      const events = yield* RunEvents
      const gate = yield* StepGate

      const forRun = (run: RunContext) =>
        Effect.sync((): Dispatch<never> => {
          const attempts = new Map<string, number>()
          const { blueprint, runId } = run

          // `locked`: only operator steps race with worker input; the rest skip the gate
          const finish = (
            stepId: StepId,
            outcome: Outcome | { readonly status: "cancelled"; readonly error: string },
            locked: boolean
          ) =>
            Effect.gen(function*() {
              const at = yield* isoNow
              const write = Effect.gen(function*() {
                const current = yield* steps.get(stepId)
                if (Option.isNone(current)) return undefined
                const next: StepRecord = {
                  ...current.value,
                  status: outcome.status,
                  finished_at: at,
                  sealed: true,
                  ...("value" in outcome && outcome.value !== undefined ? { value: outcome.value } : {}),
                  ...(outcome.error !== undefined ? { error: outcome.error } : {}),
                  ...("stats" in outcome && outcome.stats !== undefined ? { stats: outcome.stats } : {})
                }
                yield* steps.put(next)
                return next
              })
              const rec = yield* (locked ? gate.locked(write) : write)
              if (rec === undefined) return
              yield* events.publish({
                type: "step_finished",
                run_id: runId,
                step_id: stepId,
                ref: rec.ref,
                attempt: rec.attempt,
                status: outcome.status,
                ...(outcome.error !== undefined ? { message: outcome.error } : {})
              })
            })

          return (node, input, meta) =>
            Effect.gen(function*() {
              const ref = node.ref
              const agent = blueprint.agents.find((a) => a.name === ref)
              if (agent === undefined) {
                return yield* new StepFailure({ message: `no agent named "${ref}" in the blueprint`, ref })
              }
              const attempt = (attempts.get(meta.location) ?? 0) + 1
              attempts.set(meta.location, attempt)

              const earlier = (run.previous ?? []).filter((s) =>
                s.location === meta.location && s.attempt === attempt && sameJson(s.input, input)
              )
              const reused = earlier.find((s) => s.status === "passed" || s.status === "skipped")
              if (reused !== undefined) return reused.value ?? null
              const resumed = earlier.find((s) => !isStepFinished(s.status))

              const stepId = resumed?.step_id ?? newStepId()
              const record: StepRecord = {
                ...resumed,
                step_id: stepId,
                run_id: runId,
                ref,
                attempt,
                status: "running",
                started_at: yield* isoNow,
                location: meta.location,
                input,
                sealed: false,
                ...(agent.kind === "operator" ? { seat: agent.operator } : {}),
                ...(agent.verdicts !== undefined ? { verdicts: agent.verdicts } : {})
              }
              yield* steps.put(record)
              yield* events.publish({ type: "step_started", run_id: runId, step_id: stepId, ref, attempt, status: "running" })

              const system = agent.system_prompt === undefined
                ? Either.right(null)
                : renderTemplate(agent.system_prompt, input)
              const work: Effect.Effect<Outcome> = Either.isLeft(system)
                ? Effect.succeed(failed(
                  `the system_prompt of agent "${ref}" uses the unknown placeholder {{ ${system.left} }}: ` +
                    `use {{ input }} or the name of a field of the step input`
                ))
                : agent.kind === "builtin"
                ? runBuiltin(agent, input)
                : agent.kind === "subprocess"
                ? runSubprocess(agent, input)
                : Effect.provide(
                  runOperatorStep({
                    runId,
                    blueprint,
                    agent,
                    stepId,
                    attempt,
                    input,
                    system: system.right,
                    ...(resumed !== undefined ? { resumed } : {})
                  }),
                  deps
                )

              const isOperator = agent.kind === "operator"
              const outcome = yield* work.pipe(
                Effect.onInterrupt(() =>
                  Effect.flatMap(
                    run.cancelling.get,
                    (cancelling) =>
                      cancelling
                        ? finish(stepId, { status: "cancelled", error: "the run was cancelled" }, isOperator)
                        : Effect.void
                  )
                )
              )
              yield* finish(stepId, outcome, isOperator)

              switch (outcome.status) {
                case "passed":
                case "skipped":
                  return outcome.value ?? null
                case "blocked":
                  return yield* new StepFailure({
                    message: `step ${ref} blocked${outcome.error !== undefined ? `: ${outcome.error}` : ""}`,
                    ref,
                    stepValue: outcome.value ?? null
                  })
                case "failed":
                  return yield* new StepFailure({
                    message: `step ${ref} failed${outcome.error !== undefined ? `: ${outcome.error}` : ""}`,
                    ref
                  })
              }
            })
        })

      return { forRun }
    })
  )
}
