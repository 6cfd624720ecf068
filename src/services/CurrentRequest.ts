/**
 * The request currently being served on this fiber (docs/operators.md, Frames `parent_req_id`).
 * A FiberRef, so the value travels with the fiber (and its children) and never leaks
 * between concurrent callers.
 */
import { Effect, FiberRef, Option } from "effect"
import { dual } from "effect/Function"

/** `Some(req_id)` while the fiber is serving that request, `None` otherwise. */
export const CurrentRequest: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(
  Option.none<string>()
)

/** The req_id a request issued now would carry as `parent_req_id`. */
export const currentRequest: Effect.Effect<Option.Option<string>> = FiberRef.get(CurrentRequest)

/** Run `self` as part of serving `reqId`: requests it issues carry `parent_req_id: reqId`. */
export const withParentRequest: {
  (reqId: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, reqId: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, reqId: string): Effect.Effect<A, E, R> =>
    Effect.locally(self, CurrentRequest, Option.some(reqId))
)
