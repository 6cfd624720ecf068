/**
 * The seats of runs, owned here: who sits in each declared seat (with a generation that
 * counts every seating), stored through SeatRepo, and, while a run is live, a way for a
 * step to wait until its seat is taken. Nothing else writes a seating.
 */
import { Context, Deferred, Effect, Layer, Option, Ref, Stream, SubscriptionRef } from "effect"
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

/** A live seat: its holder (null while empty) and its generation, also while empty. */
interface Seating {
  readonly sid: Sid | null
  readonly generation: number
}

type LiveMap = Readonly<Record<string, Seating>>

interface LiveSeats {
  /** One value for all seats of the run, so a step sees a take-over or a vacate atomically. */
  readonly seats: SubscriptionRef.SubscriptionRef<LiveMap>
  /** Every sid that ever held a seat of the run: withdrawal on cancel reaches all of them. */
  readonly holders: Ref.Ref<ReadonlySet<Sid>>
  /**
   * Completed (and replaced) after every change of `seats`: `changed` waits on it instead of
   * following `seats.changes`, which would cost a stream per operator request.
   */
  moved: Deferred.Deferred<void>
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
  /**
   * Completes once the seat's generation is no longer `generation` (taken over or vacated);
   * at once if it already changed. Never while the run is not live.
   */
  readonly changed: (runId: RunId, slot: string, generation: number) => Effect.Effect<void>
  /** The seat's generation now, while the run is live. */
  readonly generation: (runId: RunId, slot: string) => Effect.Effect<Option.Option<number>>
  /** Empty every seat `sid` holds in a live run (generation counts up); the seats it emptied. */
  readonly vacate: (sid: Sid) => Effect.Effect<ReadonlyArray<TakeResult & { readonly runId: RunId }>>
  readonly holders: (runId: RunId) => Effect.Effect<ReadonlyArray<Sid>>
}

const toMap = (rows: ReadonlyArray<SeatingRecord>): SeatMap =>
  Object.fromEntries(rows.map((r) => [r.slot, r.sid === null ? null : { sid: r.sid, generation: r.generation }]))

const toLive = (rows: ReadonlyArray<SeatingRecord>): LiveMap =>
  Object.fromEntries(rows.map((r) => [r.slot, { sid: r.sid, generation: r.generation }]))

const fromLive = (m: LiveMap): SeatMap =>
  Object.fromEntries(
    Object.entries(m).map(([slot, s]) => [slot, s.sid === null ? null : { sid: s.sid, generation: s.generation }])
  )

export class Seats extends Context.Tag("swarmgate/Seats")<Seats, SeatsShape>() {
  static readonly layer: Layer.Layer<Seats, never, SeatRepo> = Layer.effect(
    Seats,
    Effect.gen(function*() {
      const repo = yield* SeatRepo
      const live = yield* Ref.make(new Map<RunId, LiveSeats>())
      // a take is read, modify, store of one seat: per run, so two takes store in the order they applied
      const lock = yield* makeKeyedLock<RunId>()
      const find = (runId: RunId) => Effect.map(Ref.get(live), (m) => Option.fromNullable(m.get(runId)))

      /** After `seats` changed: wake whoever waits in `changed` (they look again). */
      const signal = (l: LiveSeats) =>
        Effect.flatMap(Deferred.make<void>(), (next) => {
          const previous = l.moved
          l.moved = next
          return Deferred.succeed(previous, undefined)
        })

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
          const initial = toLive(kept)
          const seats = yield* SubscriptionRef.make(initial)
          const sids = Object.values(initial).flatMap((s) => s.sid === null ? [] : [s.sid])
          const holders = yield* Ref.make<ReadonlySet<Sid>>(new Set(sids))
          const moved = yield* Deferred.make<void>()
          yield* Ref.update(live, (m) => new Map(m).set(runId, { seats, holders, moved }))
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
          onSome: (l) => Effect.map(SubscriptionRef.get(l.seats), fromLive)
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
            yield* signal(l.value)
          }
          return result
        }))

      const awaitSeat = (runId: RunId, slot: string, onWait: Effect.Effect<void>) =>
        find(runId).pipe(Effect.flatMap(Option.match({
          // a run that is not live never gets a seat; its fiber is being interrupted anyway
          onNone: () => Effect.never,
          onSome: (l) =>
            Effect.gen(function*() {
              const held = (s: Seating | undefined): SeatRecord | undefined =>
                s === undefined || s.sid === null ? undefined : { sid: s.sid, generation: s.generation }
              const now = held((yield* SubscriptionRef.get(l.seats))[slot])
              if (now !== undefined) return now
              yield* onWait
              const next = yield* l.seats.changes.pipe(
                Stream.map((m) => held(m[slot])),
                Stream.filter((s): s is SeatRecord => s !== undefined),
                Stream.runHead
              )
              return yield* Option.match(next, { onNone: () => Effect.never, onSome: Effect.succeed })
            })
        })))

      const changed: SeatsShape["changed"] = (runId, slot, generation) =>
        find(runId).pipe(Effect.flatMap(Option.match({
          onNone: () => Effect.never,
          // the signal is taken before the seats are read: a change after the read completes it,
          // and a change made before we looked is seen in the read
          onSome: (l) => {
            const look: Effect.Effect<void> = Effect.suspend(() => {
              const wake = l.moved
              return Effect.flatMap(SubscriptionRef.get(l.seats), (m) =>
                (m[slot]?.generation ?? generation) !== generation
                  ? Effect.void
                  : Effect.zipRight(Deferred.await(wake), look))
            })
            return look
          }
        })))

      const vacate: SeatsShape["vacate"] = (sid) =>
        Effect.gen(function*() {
          const all = [...(yield* Ref.get(live)).entries()]
          const emptied: Array<TakeResult & { readonly runId: RunId }> = []
          for (const [runId, l] of all) {
            yield* lock.withLock(runId)(Effect.gen(function*() {
              // read under the lock: a take of the same run cannot come in between
              const held = Object.entries(yield* SubscriptionRef.get(l.seats)).filter(([, s]) => s.sid === sid)
              for (const [slot, s] of held) {
                const generation = s.generation + 1
                yield* repo.put({ run_id: runId, slot, sid: null, generation })
                yield* SubscriptionRef.update(l.seats, (m) => ({ ...m, [slot]: { sid: null, generation } }))
                yield* signal(l)
                emptied.push({ runId, slot, generation, previous: { sid, generation: s.generation } })
              }
            }))
          }
          return emptied
        })

      return {
        declare,
        open,
        close,
        view,
        take,
        await: awaitSeat,
        changed,
        vacate,
        generation: (runId, slot) =>
          find(runId).pipe(Effect.flatMap(Option.match({
            onNone: () => Effect.succeedNone,
            onSome: (l) => Effect.map(SubscriptionRef.get(l.seats), (m) => Option.fromNullable(m[slot]?.generation))
          }))),
        holders: (runId) =>
          find(runId).pipe(Effect.flatMap(Option.match({
            onNone: () => Effect.succeed([]),
            onSome: (l) => Effect.map(Ref.get(l.holders), (s) => [...s])
          })))
      }
    })
  )
}
