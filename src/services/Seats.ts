/**
 * The seats of runs, owned here: who sits in each declared seat (with a generation that
 * counts every seating), stored through SeatRepo, and, while a run is live, a way for a
 * step to wait until its seat is taken. Nothing else writes a seating.
 */
import { Context, Effect, Layer, Option, Ref, Stream, SubscriptionRef } from "effect"
import type { RunId, Sid } from "../protocol/ids.js"
import type { SeatingRecord, SeatMap, SeatRecord } from "../protocol/records.js"
import { makeKeyedLock } from "./KeyedLock.js"
import { SeatRepo } from "./repos/SeatRepo.js"

export type { SeatMap }

export interface TakeResult {
  readonly slot: string
  readonly generation: number
  readonly previous?: SeatRecord
}

interface LiveSeats {
  readonly seats: SubscriptionRef.SubscriptionRef<SeatMap>
  /** Every sid that ever held a seat of the run: withdrawal on cancel reaches all of them. */
  readonly holders: Ref.Ref<ReadonlySet<Sid>>
}

export interface SeatsShape {
  /** Store the declared seats of a new run, all held by `sid` (generation 1) or all empty. */
  readonly declare: (runId: RunId, slots: ReadonlyArray<string>, sid: Sid | undefined) => Effect.Effect<void>
  /**
   * The run goes live: its stored seats are loaded; a seat whose holder `keep` refuses is
   * emptied first (resume after a restart: that session is gone).
   */
  readonly open: (runId: RunId, keep?: (sid: Sid) => Effect.Effect<boolean>) => Effect.Effect<void>
  readonly close: (runId: RunId) => Effect.Effect<void>
  /** Every declared seat of the run, live or stored. */
  readonly view: (runId: RunId) => Effect.Effect<SeatMap>
  /** Seat `sid` in `slot` (the caller checked the slot exists), live or not; stored before it returns. */
  readonly take: (runId: RunId, slot: string, sid: Sid) => Effect.Effect<TakeResult>
  /** The current holder, waiting for one if the seat is empty; `onWait` runs once, only if it had to wait. */
  readonly await: (runId: RunId, slot: string, onWait: Effect.Effect<void>) => Effect.Effect<SeatRecord>
  readonly holders: (runId: RunId) => Effect.Effect<ReadonlyArray<Sid>>
}

const toMap = (rows: ReadonlyArray<SeatingRecord>): SeatMap =>
  Object.fromEntries(rows.map((r) => [r.slot, r.sid === null ? null : { sid: r.sid, generation: r.generation }]))

export class Seats extends Context.Tag("swarmgate/Seats")<Seats, SeatsShape>() {
  static readonly layer: Layer.Layer<Seats, never, SeatRepo> = Layer.effect(
    Seats,
    Effect.gen(function*() {
      const repo = yield* SeatRepo
      const live = yield* Ref.make(new Map<RunId, LiveSeats>())
      // a take is read, modify, store of one seat: per run, so two takes store in the order they applied
      const lock = yield* makeKeyedLock<RunId>()
      const find = (runId: RunId) => Effect.map(Ref.get(live), (m) => Option.fromNullable(m.get(runId)))

      const declare: SeatsShape["declare"] = (runId, slots, sid) =>
        Effect.forEach(
          slots,
          (slot) => repo.put({ run_id: runId, slot, sid: sid ?? null, generation: sid === undefined ? 0 : 1 }),
          { discard: true }
        )

      const open: SeatsShape["open"] = (runId, keep) =>
        lock.withLock(runId)(Effect.gen(function*() {
          const rows = yield* repo.listByRun(runId)
          const kept: Array<SeatingRecord> = []
          for (const row of rows) {
            if (row.sid !== null && keep !== undefined && !(yield* keep(row.sid))) {
              const emptied = { ...row, sid: null }
              yield* repo.put(emptied)
              kept.push(emptied)
            } else kept.push(row)
          }
          const initial = toMap(kept)
          const seats = yield* SubscriptionRef.make(initial)
          const sids = Object.values(initial).flatMap((s) => s === null ? [] : [s.sid])
          const holders = yield* Ref.make<ReadonlySet<Sid>>(new Set(sids))
          yield* Ref.update(live, (m) => new Map(m).set(runId, { seats, holders }))
        }))

      const close = (runId: RunId) =>
        Ref.update(live, (m) => {
          const next = new Map(m)
          next.delete(runId)
          return next
        })

      const view = (runId: RunId) =>
        find(runId).pipe(Effect.flatMap(Option.match({
          onNone: () => Effect.map(repo.listByRun(runId), toMap),
          onSome: (l) => SubscriptionRef.get(l.seats)
        })))

      const take: SeatsShape["take"] = (runId, slot, sid) =>
        lock.withLock(runId)(Effect.gen(function*() {
          const rows = yield* repo.listByRun(runId)
          const row = rows.find((r) => r.slot === slot)
          const previous = row !== undefined && row.sid !== null ? { sid: row.sid, generation: row.generation } : undefined
          const generation = (row?.generation ?? 0) + 1
          const result: TakeResult = { slot, generation, ...(previous !== undefined ? { previous } : {}) }
          yield* repo.put({ run_id: runId, slot, sid, generation })
          const l = yield* find(runId)
          if (Option.isSome(l)) {
            yield* Ref.update(l.value.holders, (s) => new Set([...s, sid]))
            yield* SubscriptionRef.update(l.value.seats, (m) => ({ ...m, [slot]: { sid, generation } }))
          }
          return result
        }))

      const awaitSeat = (runId: RunId, slot: string, onWait: Effect.Effect<void>) =>
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
        declare,
        open,
        close,
        view,
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
