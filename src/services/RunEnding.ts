/**
 * How a run's fiber ends (RunLifecycle forks it with `end` installed): its status from the
 * exit, worker input sealed, steps a fanout left running closed as `cancelled`, the run
 * record and its last event written, the seats closed.
 */
import { Cause, Clock, Effect, Exit, Option } from "effect"
import type { RunId } from "../protocol/ids.js"
import { isStepFinished, type RunError, type RunRecord, type RunStatus } from "../protocol/records.js"
import type { FlowError } from "./flow/evaluate.js"
import type { RunEventsShape } from "./RunEvents.js"
import type { SeatsShape } from "./Seats.js"
import type { StepsShape } from "./Steps.js"

export const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

export const runError = (cause: Cause.Cause<FlowError>): RunError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    return {
      message: e.message,
      // Stryker disable next-line ConditionalExpression: `true` adds an undefined field, which storage and the API drop
      ...(e.failedStep !== undefined ? { failed_step: e.failedStep } : {}),
      // Stryker disable next-line ConditionalExpression: as above
      ...(e.stepValue !== undefined ? { step_value: e.stepValue } : {})
    }
  }
  return { message: `internal error: ${Cause.pretty(cause)}` }
}

export interface RunEndingDeps {
  readonly steps: StepsShape
  readonly events: RunEventsShape
  readonly seats: SeatsShape
  /** Read-modify-write of the run record under the run's lock. */
  readonly updateRun: (runId: RunId, f: (r: RunRecord) => RunRecord) => Effect.Effect<Option.Option<RunRecord>>
}

export const makeRunEnding = ({ events, seats, steps, updateRun }: RunEndingDeps) => {
  /**
   * Steps a fanout stopped without a verdict (the siblings of a failed `all` branch, the
   * losers of `any` / `race`) are still `running` when their run ends; a finished run
   * lists none of its steps as running, so they are recorded `cancelled`.
   */
  const closeUnfinished = (runId: RunId, at: string) =>
    Effect.flatMap(steps.listByRun(runId), (list) =>
      Effect.forEach(
        list.filter((s) => !isStepFinished(s.status)),
        (s) =>
          Effect.gen(function*() {
            const message = "the run ended before this step finished (another branch of its fanout decided the run)"
            const closed = yield* steps.finish(s.step_id, { status: "cancelled", error: message }, at)
            if (Option.isNone(closed)) return
            yield* events.publish({
              type: "step_finished",
              run_id: runId,
              step_id: s.step_id,
              ref: s.ref,
              attempt: s.attempt,
              status: "cancelled",
              message
            })
          }),
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: without `discard` the results are collected and not used
        { discard: true }
      ))

  /** The run's fiber has exited; `cancelling` says whether a cancel asked for it. */
  const end = (runId: RunId, exit: Exit.Exit<unknown, FlowError>, cancelling: boolean) =>
    Effect.gen(function*() {
      const finishedAt = yield* isoNow
      const status: RunStatus = Exit.isSuccess(exit)
        ? "done"
        : Cause.isInterruptedOnly(exit.cause)
        ? cancelling ? "cancelled" : "interrupted"
        : cancelling
        ? "cancelled"
        : "failed"
      // an ended run takes no more worker input: sealed before the run says it ended
      if (status !== "interrupted") {
        yield* steps.sealRun(runId)
        yield* closeUnfinished(runId, finishedAt)
      }
      const error = status === "failed" && Exit.isFailure(exit) ? runError(exit.cause) : undefined
      yield* updateRun(runId, (r) => {
        const { error: _e, finished_at: _f, result: _r, ...rest } = r
        return {
          ...rest,
          status,
          ...(status !== "interrupted" ? { finished_at: finishedAt } : {}),
          ...(Exit.isSuccess(exit) ? { result: exit.value } : {}),
          ...(error !== undefined ? { error } : {})
        }
      })
      // an interrupted run has not ended: it goes on when resumed; followers are told why the stream stops
      // (a finished run's event says how it ended, so a follower needs no other request)
      yield* events.publish(
        status === "interrupted"
          ? { type: "run_interrupted", run_id: runId, status, message: "the server stopped" }
          : {
            type: "run_finished",
            run_id: runId,
            status,
            ...(error !== undefined ? { error, message: error.message } : {})
          }
      )
      yield* seats.close(runId)
    })

  return { end }
}
