/**
 * One lock per key (a step, a run), made on first use and dropped when its last user leaves:
 * work on different keys never waits for each other, and nothing grows with finished keys.
 */
import { Effect } from "effect"

export interface KeyedLock<K> {
  /** Run `effect` holding the key's lock; uninterruptible once it holds it, so a write is never cut in half. */
  readonly withLock: (key: K) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

interface Entry {
  readonly sem: Effect.Semaphore
  users: number
}

export const makeKeyedLock = <K>(): Effect.Effect<KeyedLock<K>> =>
  Effect.sync(() => {
    const locks = new Map<K, Entry>()
    const enter = (key: K) =>
      Effect.sync(() => {
        let entry = locks.get(key)
        if (entry === undefined) {
          entry = { sem: Effect.unsafeMakeSemaphore(1), users: 0 }
          locks.set(key, entry)
        }
        entry.users++
        return entry
      })
    const leave = (key: K, entry: Entry) =>
      Effect.sync(() => {
        if (--entry.users === 0) locks.delete(key)
      })
    return {
      withLock: (key) => (effect) =>
        Effect.acquireUseRelease(
          enter(key),
          (entry) => entry.sem.withPermits(1)(Effect.uninterruptible(effect)),
          (entry) => leave(key, entry)
        )
    }
  })
