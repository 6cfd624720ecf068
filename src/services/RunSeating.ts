/**
 * Seating a session in a run (`acquire`) and what a take-over or a vacated seat means for
 * the seat's unfinished steps: credentials minted for an older generation stop counting.
 */
import { Effect } from "effect"
import type { RunId, Sid } from "../protocol/ids.js"
import { isRunEnded, isStepFinished, type RunRecord } from "../protocol/records.js"
import { RunAlreadyFinished, SeatNotFound, SlotRequired } from "./EngineErrors.js"
import type { SeatsShape, TakeResult } from "./Seats.js"
import type { StepsShape } from "./Steps.js"

export const makeRunSeating = (seats: SeatsShape, steps: StepsShape) => {
  /** Credentials of the seat's unfinished steps minted before `generation` are `superseded` from now on. */
  const supersede = (runId: RunId, slot: string, generation: number) =>
    Effect.flatMap(steps.listByRun(runId), (list) =>
      Effect.forEach(
        list.filter((s) => s.seat === slot && !isStepFinished(s.status)),
        (s) => steps.supersede(s.step_id, generation),
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: without `discard` the results are collected and not used
        { discard: true }
      ))

  const acquire = (
    run: RunRecord,
    sid: Sid,
    slot?: string
  ): Effect.Effect<TakeResult, RunAlreadyFinished | SeatNotFound | SlotRequired> =>
    Effect.gen(function*() {
      const runId = run.run_id
      if (isRunEnded(run.status)) {
        return yield* new RunAlreadyFinished({
          runId,
          status: run.status,
          message: `run ${runId} has already finished (${run.status})`
        })
      }
      const names = Object.keys(yield* seats.view(run.run_id))
      if (slot === undefined && names.length > 1) {
        return yield* new SlotRequired({
          runId,
          seats: names,
          message: `run ${runId} has ${names.length} seats: name one as "slot" (${names.join(", ")})`
        })
      }
      const name = slot ?? names[0]
      if (name === undefined || !names.includes(name)) {
        return yield* new SeatNotFound({
          runId,
          slot: name ?? "",
          message: names.length === 0
            ? `run ${runId} declares no operator seats`
            : `run ${runId} has no seat "${name}": use one of ${names.join(", ")}`
        })
      }
      // not live (interrupted): only the stored seating changes
      const result = yield* seats.take(run.run_id, name, sid)
      // The steps of the seat see the new generation themselves (agents/seated.ts): each
      // cancels its pending request (seat_taken_over) and sends it again, also when the new
      // holder is the same session. Here the old credentials stop counting.
      // Stryker disable next-line ConditionalExpression: `true` supersedes on a first take too, where no older generation exists
      if (result.previous !== undefined) yield* supersede(run.run_id, name, result.generation)
      return result
    })

  /** A torn-down session leaves its seats (teardown step 2): their steps wait for a new holder. */
  const vacate = (sid: Sid) =>
    Effect.flatMap(
      seats.vacate(sid),
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: without `discard` the results are collected and not used
      Effect.forEach((v) => supersede(v.runId, v.slot, v.generation), { discard: true })
    )

  return { acquire, vacate }
}
