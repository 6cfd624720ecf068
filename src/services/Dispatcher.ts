/**
 * Runs one `step` node for a run: finds the agent, keeps the step record and its events,
 * runs the agent by kind, and maps how it ended to what the flow evaluator expects.
 *
 * `attempt` counts dispatches of the same step node (its location in the blueprint) within
 * the run, from 1. On resume, a step that passed before (same node, attempt and input) is not
 * dispatched again: its stored value is reused; an unfinished one keeps its step id, so a
 * worker still holding its credential can submit.
 */
import { Clock, Context, Effect, Either, Layer } from "effect"
import type { Blueprint } from "../protocol/blueprint.js"
import { newStepId, type RunId, type StepId, type TaskId } from "../protocol/ids.js"
import { runBuiltin } from "./agents/builtin.js"
import { runOperatorStep, type OperatorStepDeps } from "./agents/operator.js"
import { failed, type Outcome } from "./agents/outcome.js"
import { runSubprocess } from "./agents/subprocess.js"
import { type Dispatch, StepFailure } from "./flow/evaluate.js"
import { isStepFinished, type StepRecord } from "../protocol/records.js"
import { RunEvents } from "./RunEvents.js"
import { type StepEnd, Steps } from "./Steps.js"
import { renderTemplate } from "./template.js"

export interface RunContext {
  readonly runId: RunId
  readonly taskId: TaskId
  readonly blueprint: Blueprint
  /** Step records of this run from before a restart (resume). */
  readonly previous?: ReadonlyArray<StepRecord>
}

/** One execution of a run, as the Dispatcher serves it. */
export interface RunDispatch {
  /** The dispatch function (it owns the attempt counters). */
  readonly dispatch: Dispatch<never>
  /**
   * The run tells its steps it is being cancelled, before it interrupts them: an interrupted
   * step is then recorded `cancelled`. Without it (server stopping) a step is left as it is,
   * for resume.
   */
  readonly cancelling: Effect.Effect<void>
}

export interface DispatcherShape {
  readonly forRun: (run: RunContext) => Effect.Effect<RunDispatch>
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

export class Dispatcher extends Context.Tag("swarmgate/Dispatcher")<Dispatcher, DispatcherShape>() {
  static readonly layer: Layer.Layer<Dispatcher, never, OperatorStepDeps | Steps> = Layer.effect(
    Dispatcher,
    Effect.gen(function*() {
      const deps = yield* Effect.context<OperatorStepDeps>()
      const steps = yield* Steps
      const events = yield* RunEvents

      const forRun = (run: RunContext) =>
        Effect.sync((): RunDispatch => {
          const attempts = new Map<string, number>()
          const { blueprint, runId } = run
          // set by the run itself through `cancelling`; only this execution reads it
          let cancelled = false

          const finish = (stepId: StepId, outcome: StepEnd) =>
            Effect.gen(function*() {
              const found = yield* steps.finish(stepId, outcome, yield* isoNow)
              if (found._tag === "None") return
              const rec = found.value
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

          const dispatch: Dispatch<never> = (node, input, meta) =>
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
              yield* steps.open(record)
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

              const outcome = yield* work.pipe(
                Effect.onInterrupt(() =>
                  Effect.suspend(() =>
                    cancelled ? finish(stepId, { status: "cancelled", error: "the run was cancelled" }) : Effect.void
                  )
                )
              )
              yield* finish(stepId, outcome)

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

          return {
            dispatch,
            cancelling: Effect.sync(() => {
              cancelled = true
            })
          }
        })

      return { forRun }
    })
  )
}
