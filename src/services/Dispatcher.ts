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
import type { AgentDef } from "../protocol/blueprint.js"
import type { Blueprint } from "../protocol/blueprint.js"
import { newStepId, type RunId, type StepId, type TaskId } from "../protocol/ids.js"
import { instantBuiltin, runBuiltin } from "./agents/builtin.js"
import { runOperatorStep, type OperatorStepDeps } from "./agents/operator.js"
import { failed, type Outcome } from "./agents/outcome.js"
import { runSubprocess } from "./agents/subprocess.js"
import { type Dispatch, StepFailure } from "./flow/evaluate.js"
import { isStepFinished, type StepRecord } from "../protocol/records.js"
import { Transactions } from "./repos/Transactions.js"
import { type EventInput, RunEvents } from "./RunEvents.js"
import { endedRecord, type StepEnd, Steps } from "./Steps.js"
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

/** What the flow gets back from a step that ended with `outcome`. */
const verdict = (ref: string, outcome: StepEnd): Effect.Effect<unknown, StepFailure> => {
  switch (outcome.status) {
    case "passed":
    case "skipped":
      return Effect.succeed(outcome.value ?? null)
    case "blocked":
      return Effect.fail(
        new StepFailure({
          message: `step ${ref} blocked${outcome.error !== undefined ? `: ${outcome.error}` : ""}`,
          ref,
          stepValue: outcome.value ?? null
        })
      )
    default:
      return Effect.fail(
        new StepFailure({
          message: `step ${ref} failed${outcome.error !== undefined ? `: ${outcome.error}` : ""}`,
          ref
        })
      )
  }
}

const finishedEvent = (rec: StepRecord, outcome: StepEnd): EventInput => ({
  type: "step_finished",
  run_id: rec.run_id,
  step_id: rec.step_id,
  ref: rec.ref,
  attempt: rec.attempt,
  status: outcome.status,
  ...(outcome.error !== undefined ? { message: outcome.error } : {})
})

export class Dispatcher extends Context.Tag("swarmgate/Dispatcher")<Dispatcher, DispatcherShape>() {
  static readonly layer: Layer.Layer<Dispatcher, never, OperatorStepDeps | Steps | RunEvents | Transactions> = Layer
    .effect(
      Dispatcher,
      Effect.gen(function*() {
        const deps = yield* Effect.context<OperatorStepDeps>()
        const steps = yield* Steps
        const events = yield* RunEvents
        const { atomically } = yield* Transactions

        const forRun = (run: RunContext) =>
          Effect.sync((): RunDispatch => {
            const attempts = new Map<string, number>()
            const { blueprint, runId } = run
            const agents = new Map<string, AgentDef>(blueprint.agents.map((a) => [a.name, a]))
            // set by the run itself through `cancelling`; only this execution reads it
            let cancelled = false

            /**
             * A step without a seat has one writer (this fiber), so its writes can share a
             * commit; a seated step's verbs take the step's lock, which must never wait inside
             * a transaction (a worker holding the lock may be waiting for the connection).
             */
            const together = (seated: boolean) => <A>(self: Effect.Effect<A>) => seated ? self : atomically(self)

            const finish = (stepId: StepId, outcome: StepEnd, seated: boolean) =>
              together(seated)(Effect.flatMap(isoNow, (at) =>
                Effect.flatMap(steps.finish(stepId, outcome, at), (found) =>
                  found._tag === "None" ? Effect.void : Effect.asVoid(events.publish(finishedEvent(found.value, outcome))))))

            const dispatch: Dispatch<never> = (node, input, meta) =>
              Effect.suspend(() => {
                const ref = node.ref
                const agent = agents.get(ref)
                if (agent === undefined) {
                  return Effect.fail(new StepFailure({ message: `no agent named "${ref}" in the blueprint`, ref }))
                }
                const attempt = (attempts.get(meta.location) ?? 0) + 1
                attempts.set(meta.location, attempt)

                let resumed: StepRecord | undefined
                if (run.previous !== undefined && run.previous.length > 0) {
                  const earlier = run.previous.filter((s) =>
                    s.location === meta.location && s.attempt === attempt && sameJson(s.input, input)
                  )
                  const reused = earlier.find((s) => s.status === "passed" || s.status === "skipped")
                  if (reused !== undefined) return Effect.succeed(reused.value ?? null)
                  resumed = earlier.find((s) => !isStepFinished(s.status))
                }

                const stepId = resumed?.step_id ?? newStepId()
                const seated = agent.kind === "operator"
                const span = Effect.withSpan("step", {
                  attributes: { "swarmgate.step_id": stepId, "swarmgate.ref": ref, "swarmgate.attempt": attempt },
                  captureStackTrace: false
                })
                return Effect.flatMap(isoNow, (startedAt) => {
                  const record: StepRecord = {
                    ...resumed,
                    step_id: stepId,
                    run_id: runId,
                    ref,
                    attempt,
                    status: "running",
                    started_at: startedAt,
                    location: meta.location,
                    input,
                    sealed: false,
                    ...(agent.kind === "operator" ? { seat: agent.operator } : {}),
                    ...(agent.verdicts !== undefined ? { verdicts: agent.verdicts } : {})
                  }
                  const started: EventInput = { type: "step_started", run_id: runId, step_id: stepId, ref, attempt, status: "running" }

                  const system = agent.system_prompt === undefined
                    ? Either.right(null)
                    : renderTemplate(agent.system_prompt, input)
                  const instant: Outcome | undefined = Either.isLeft(system)
                    ? failed(
                      `the system_prompt of agent "${ref}" uses the unknown placeholder {{ ${system.left} }}: ` +
                        `use {{ input }} or the name of a field of the step input`
                    )
                    : agent.kind === "builtin"
                    ? instantBuiltin(agent, input)
                    : undefined

                  if (instant !== undefined) {
                    // nothing runs in between: the step is stored once, as it ended, with both
                    // its events, in one commit (an operator step whose prompt did not render
                    // keeps separate writes, like every seated step)
                    const ended = endedRecord(record, instant, startedAt)
                    return together(seated)(
                      Effect.zipRight(
                        steps.open(ended),
                        Effect.zipRight(
                          events.publish(started, startedAt),
                          events.publish(finishedEvent(ended, instant), startedAt)
                        )
                      )
                    ).pipe(span, Effect.zipRight(verdict(ref, instant)))
                  }

                  const work: Effect.Effect<Outcome> = agent.kind === "builtin"
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
                        system: Either.isRight(system) ? system.right : null,
                        ...(resumed !== undefined ? { resumed } : {})
                      }),
                      deps
                    )

                  return together(seated)(Effect.zipRight(steps.open(record), events.publish(started))).pipe(
                    Effect.zipRight(work.pipe(
                      span,
                      Effect.onInterrupt(() =>
                        Effect.suspend(() =>
                          cancelled
                            ? finish(stepId, { status: "cancelled", error: "the run was cancelled" }, seated)
                            : Effect.void
                        )
                      )
                    )),
                    Effect.tap((outcome) => finish(stepId, outcome, seated)),
                    Effect.flatMap((outcome) => verdict(ref, outcome))
                  )
                })
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
