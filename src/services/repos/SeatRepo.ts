/**
 * The seatings of runs: one row per declared seat of a run, keyed by (run_id, slot).
 * Written only by Seats, which owns them.
 */
import { Context, Effect, Layer } from "effect"
import type { RunId } from "../../protocol/ids.js"
import type { SeatingRecord } from "../../protocol/records.js"

export type { SeatingRecord }

export interface SeatRepoShape {
  /** Insert or replace the row of (run_id, slot). */
  readonly put: (seating: SeatingRecord) => Effect.Effect<void>
  /** The run's seats in the order they were first stored (declaration order). */
  readonly listByRun: (runId: RunId) => Effect.Effect<ReadonlyArray<SeatingRecord>>
}

export class SeatRepo extends Context.Tag("swarmgate/SeatRepo")<SeatRepo, SeatRepoShape>() {
  static readonly memory: Layer.Layer<SeatRepo> = Layer.sync(SeatRepo, () => {
    const byRun = new Map<RunId, Map<string, SeatingRecord>>()
    return {
      put: (seating) =>
        Effect.sync(() => {
          const run = byRun.get(seating.run_id) ?? new Map<string, SeatingRecord>()
          byRun.set(seating.run_id, run.set(seating.slot, seating))
        }),
      listByRun: (runId) => Effect.sync(() => [...(byRun.get(runId)?.values() ?? [])])
    }
  })
}
