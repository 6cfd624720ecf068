/**
 * Why a caller interrupts its own pending request: a FiberRef holding a cell the caller sets
 * just before it interrupts, read by the session when it tells the operator (`cancel`).
 * Unset, an interrupted request is cancelled with `interrupted`. A seat take-over uses it so
 * the request it stops is cancelled with `seat_taken_over`, whoever gets there first.
 */
import { Effect, FiberRef, Option, Ref } from "effect"
import type { WithdrawalReason } from "../protocol/withdrawal.js"

export const CancelReason: FiberRef.FiberRef<Option.Option<Ref.Ref<WithdrawalReason>>> = FiberRef.unsafeMake(
  Option.none<Ref.Ref<WithdrawalReason>>()
)

/** The reason a request interrupted now is cancelled with. */
export const cancelReason: Effect.Effect<WithdrawalReason> = Effect.flatMap(
  FiberRef.get(CancelReason),
  Option.match({ onNone: () => Effect.succeed("interrupted" as const), onSome: Ref.get })
)

/** Run `self` so that, when it is interrupted, its pending requests are cancelled with what `cell` holds then. */
export const withCancelReason = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  cell: Ref.Ref<WithdrawalReason>
): Effect.Effect<A, E, R> => Effect.locally(self, CancelReason, Option.some(cell))
