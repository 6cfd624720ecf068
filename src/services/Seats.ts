/**
 * Live seat state of running runs: who sits in each declared seat, with a generation that
 * counts every seating, and a way for a step to wait until its seat is taken. The durable
 * copy lives on the run record (Runs writes it).
 */
import { Context, Effect, Layer, Option, Ref, Stream, SubscriptionRef } from "effect"
import type { SeatRecord } from "./repos/RunRepo.js"

export type SeatMap = Readonly<Record<string, SeatRecord | null>>

export interface TakeResult {
  readonly slot: string
  readonly generation: number
  readonly previous?: SeatRecord
}

interface LiveSeats {
  readonly seats: SubscriptionRef.SubscriptionRef<SeatMap>
  /** Every sid that ever held a seat of the run: withdrawal on cancel reaches all of them. */
  readonly holders: Ref.Ref<ReadonlySet<string>>
}

export interface SeatsShape {
  readonly open: (runId: string, seats: SeatMap) => Effect.Effect<void>
  readonly close: (runId: string) => Effect.Effect<void>
  readonly snapshot: (runId: string) => Effect.Effect<Option.Option<SeatMap>>
  /** Seat `sid` in `slot` (the caller checked the slot exists); None when the run is not live. */
  readonly take: (runId: string, slot: string, sid: string) => Effect.Effect<Option.Option<TakeResult>>
  /** The current holder, waiting for one if the seat is empty; `onWait` runs once, only if it had to wait. */
  readonly await: (runId: string, slot: string, onWait: Effect.Effect<void>) => Effect.Effect<SeatRecord>
  readonly holders: (runId: string) => Effect.Effect<ReadonlyArray<string>>
}

export class Seats extends Context.Tag("swarmgate/Seats")<Seats, SeatsShape>() {
  static readonly layer: Layer.Layer<Seats> = Layer.effect(
    Seats,
    Effect.gen(function*() {
      const live = yield* Ref.make(new Map<string, LiveSeats>())
      const find = (runId: string) => Effect.map(Ref.get(live), (m) => Option.fromNullable(m.get(runId)))

      const open = (runId: string, initial: SeatMap) =>
        Effect.gen(function*() {
          const seats = yield* SubscriptionRef.make(initial)
          const sids = Object.values(initial).flatMap((s) => s === null ? [] : [s.sid])
          const holders = yield* Ref.make<ReadonlySet<string>>(new Set(sids))
          yield* Ref.update(live, (m) => new Map(m).set(runId, { seats, holders }))
        })

      const close = (runId: string) =>
        Ref.update(live, (m) => {
          const next = new Map(m)
          next.delete(runId)
          return next
        })

      const take = (runId: string, slot: string, sid: string) =>
        find(runId).pipe(Effect.flatMap(Option.match({
          onNone: () => Effect.succeedNone,
          onSome: (l) =>
            Effect.gen(function*() {
              yield* Ref.update(l.holders, (s) => new Set([...s, sid]))
              const result = yield* SubscriptionRef.modify(l.seats, (m): [TakeResult, SeatMap] => {
                const previous = m[slot] ?? undefined
                const generation = (previous?.generation ?? 0) + 1
                return [
                  { slot, generation, ...(previous !== undefined ? { previous } : {}) },
                  { ...m, [slot]: { sid, generation } }
                ]
              })
              return Option.some(result)
            })
        })))

      const awaitSeat = (runId: string, slot: string, onWait: Effect.Effect<void>) =>
        find(runId).pipe(Effect.flatMap(Option.match({
          // a run that is not live never gets a seat; its fiber is being interrupted anyway
          onNone: () => Effect.never,
          onSome: (l) =>
            Effect.gen(function*() {
              const now = (yield* SubscriptionRef.get(l.seats))[slot]
              if (now !== undefined && now !== null) return now
              yield* onWait
              const next = yield* l.seats.changes.pipe(
                Stream.map((m) => m[slot]),
                Stream.filter((s): s is SeatRecord => s !== undefined && s !== null),
                Stream.runHead
              )
              return yield* Option.match(next, { onNone: () => Effect.never, onSome: Effect.succeed })
            })
        })))

      return {
        open,
        close,
        snapshot: (runId) =>
          find(runId).pipe(Effect.flatMap(Option.match({
            onNone: () => Effect.succeedNone,
            onSome: (l) => Effect.map(SubscriptionRef.get(l.seats), Option.some)
          }))),
        take,
        await: awaitSeat,
        holders: (runId) =>
          find(runId).pipe(Effect.flatMap(Option.match({
            onNone: () => Effect.succeed([]),
            onSome: (l) => Effect.map(Ref.get(l.holders), (s) => [...s])
          })))
      }
    })
  )
}
