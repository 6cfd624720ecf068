/**
 * Running operator work against whoever holds a seat right now. A request withdrawn because
 * the seat was taken over is sent again to the new holder; one withdrawn because the run was
 * cancelled interrupts the caller (the run fiber is being interrupted anyway).
 */
import { type Context, Effect, Option } from "effect"
import { SeatHolderGone } from "../EngineErrors.js"
import { RequestWithdrawn } from "../OperatorErrors.js"
import type { RunId } from "../../protocol/ids.js"
import type { SeatRecord } from "../../protocol/records.js"
import { Seats } from "../Seats.js"
import { type Roles, SessionDirectory } from "../SessionDirectory.js"

export interface SeatOptions {
  /** Runs once when the seat is empty and the caller starts waiting. */
  readonly onWait?: Effect.Effect<void>
  /** Runs once when a wait ended because a holder arrived. */
  readonly onSeated?: Effect.Effect<void>
}

const isWithdrawn = <E>(e: E | RequestWithdrawn): e is RequestWithdrawn => e instanceof RequestWithdrawn

/**
 * `use` runs with the holder's role Context provided. The holder is looked up afresh on every
 * take-over, so `use` must be safe to repeat (it re-sends its request).
 */
export const withSeat = <A, E>(
  runId: RunId,
  seat: string,
  use: (holder: SeatRecord, roles: Context.Context<Roles>) => Effect.Effect<A, E | RequestWithdrawn, Roles>,
  options: SeatOptions = {}
): Effect.Effect<A, E | RequestWithdrawn | SeatHolderGone, Seats | SessionDirectory> =>
  Effect.gen(function*() {
    const seats = yield* Seats
    const directory = yield* SessionDirectory
    let waited = false
    const onWait = Effect.suspend(() => {
      waited = true
      return options.onWait ?? Effect.void
    })
    while (true) {
      const holder = yield* seats.await(runId, seat, onWait)
      if (waited) {
        waited = false
        if (options.onSeated !== undefined) yield* options.onSeated
      }
      const roles = yield* directory.roles(holder.sid)
      if (Option.isNone(roles)) {
        return yield* new SeatHolderGone({
          sid: holder.sid,
          message: `the operator session ${holder.sid} seated in "${seat}" no longer exists`
        })
      }
      const result = yield* use(holder, roles.value).pipe(
        Effect.provide(roles.value),
        Effect.map(Option.some),
        // catchTag cannot see the tag through the generic E; this guard is the same test by class
        Effect.catchIf(isWithdrawn<E>, (e): Effect.Effect<Option.Option<A>, RequestWithdrawn> => {
          switch (e.reason) {
            // sent again to whoever holds the seat now
            case "seat_taken_over":
              return Effect.succeedNone
            // the run fiber is being interrupted anyway
            case "run_cancelled":
              return Effect.interrupt
            case "deadline":
            case "interrupted":
            case "superseded":
              return Effect.fail(e)
          }
        })
      )
      if (Option.isSome(result)) return result.value
    }
  })
