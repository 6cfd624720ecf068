/**
 * Running operator work against whoever holds a seat right now. The work races the seat: the
 * moment the seat's generation moves (a take-over, also by the same session, or a vacate at
 * teardown) the work is stopped and its pending request cancelled with `seat_taken_over`,
 * whether it was registered before or after the change; then it is sent again to the
 * holder of the new generation (or waits for one). A request withdrawn because the run was
 * cancelled interrupts the caller (the run fiber is being interrupted anyway).
 */
import { type Context, Effect, Option, Ref } from "effect"
import { withCancelReason } from "../CancelReason.js"
import { SeatHolderGone } from "../EngineErrors.js"
import { RequestWithdrawn, SessionTornDown } from "../OperatorErrors.js"
import type { RunId } from "../../protocol/ids.js"
import type { SeatRecord } from "../../protocol/records.js"
import type { WithdrawalReason } from "../../protocol/withdrawal.js"
import { Seats } from "../Seats.js"
import { type Roles, SessionDirectory } from "../SessionDirectory.js"

export interface SeatOptions {
  /** Runs once when the seat is empty and the caller starts waiting. */
  readonly onWait?: Effect.Effect<void>
  /** Runs once when a wait ended because a holder arrived. */
  readonly onSeated?: Effect.Effect<void>
}

const isWithdrawn = <E>(e: E | RequestWithdrawn): e is RequestWithdrawn => e instanceof RequestWithdrawn
const isTornDown = (e: unknown): boolean => e instanceof SessionTornDown

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
  Effect.flatMap(
    Effect.all([Seats, SessionDirectory]),
    ([seats, directory]) => seatedWith(seats, directory)(runId, seat, use, options)
  )

/**
 * `withSeat` over services the caller already holds (a service built once, such as Worker,
 * so that no request pays for providing them).
 */
export const seatedWith = (
  seats: Context.Tag.Service<Seats>,
  directory: Context.Tag.Service<SessionDirectory>
) =>
<A, E>(
  runId: RunId,
  seat: string,
  use: (holder: SeatRecord, roles: Context.Context<Roles>) => Effect.Effect<A, E | RequestWithdrawn, Roles>,
  options: SeatOptions = {}
): Effect.Effect<A, E | RequestWithdrawn | SeatHolderGone> =>
  Effect.gen(function*() {
    let waited = false
    const onWait = Effect.suspend(() => {
      waited = true
      return options.onWait ?? Effect.void
    })
    const moved = (holder: SeatRecord) =>
      Effect.map(seats.generation(runId, seat), Option.exists((g) => g !== holder.generation))
    while (true) {
      const holder = yield* seats.await(runId, seat, onWait)
      if (waited) {
        waited = false
        if (options.onSeated !== undefined) yield* options.onSeated
      }
      const roles = yield* directory.roles(holder.sid)
      if (Option.isNone(roles)) {
        // vacated while we looked: wait for the next holder
        if (yield* moved(holder)) continue
        return yield* new SeatHolderGone({
          sid: holder.sid,
          message: `the operator session ${holder.sid} seated in "${seat}" no longer exists`
        })
      }
      const reason = yield* Ref.make<WithdrawalReason>("interrupted")
      const attempt = use(holder, roles.value).pipe(
        Effect.provide(roles.value),
        Effect.map(Option.some),
        // catchTag cannot see the tag through the generic E; these guards are the same test by class
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
        }),
        // a torn-down holder vacates its seats first: then the step waits for the next one
        Effect.catchIf(isTornDown, (e) => Effect.flatMap(moved(holder), (m) => m ? Effect.succeedNone : Effect.fail(e)))
      )
      // the seat's change and the request's registration are ordered by this race: whichever
      // side the registration falls on, the request is cancelled (seat_taken_over) and re-sent
      const displaced = seats.changed(runId, seat, holder.generation).pipe(
        Effect.zipRight(Ref.set(reason, "seat_taken_over")),
        Effect.as(Option.none<A>())
      )
      const result = yield* Effect.raceFirst(withCancelReason(attempt, reason), displaced)
      if (Option.isSome(result)) return result.value
    }
  })
