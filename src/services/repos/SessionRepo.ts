/**
 * Stored operator sessions (docs/operators.md, After a server restart): what survives a restart. Storage-agnostic;
 * the in-memory Layer is here, SQLite implements the same shape.
 */
import { Context, Data, Effect, Layer, Option } from "effect"
import type { SessionRecord } from "../../protocol/records.js"

export type { SessionRecord }

/** A storage failure; the HTTP layer answers 500. */
export class SessionRepoError extends Data.TaggedError("SessionRepoError")<{
  readonly op: "insert" | "get" | "delete" | "touch" | "list"
  readonly message: string
  readonly cause?: unknown
}> {}

export interface SessionRepoShape {
  readonly insert: (record: SessionRecord) => Effect.Effect<void, SessionRepoError>
  readonly get: (sid: string) => Effect.Effect<Option.Option<SessionRecord>, SessionRepoError>
  /** Deleting an absent sid succeeds (teardown is idempotent). */
  readonly delete: (sid: string) => Effect.Effect<void, SessionRepoError>
  /** Move the last-access time; an absent sid is ignored. */
  readonly touch: (sid: string, at: number) => Effect.Effect<void, SessionRepoError>
  /** Oldest join first. */
  readonly list: () => Effect.Effect<ReadonlyArray<SessionRecord>, SessionRepoError>
}

/** A fresh in-memory store (its own state; nothing shared between instances). */
export const makeMemory: Effect.Effect<SessionRepoShape> = Effect.sync(() => {
  // each operation is one synchronous step, so no reader sees a half-applied update
  const store = new Map<string, SessionRecord>()
  return {
    insert: (record) => Effect.sync(() => void store.set(record.sid, record)),
    get: (sid) => Effect.sync(() => Option.fromNullable(store.get(sid))),
    delete: (sid) => Effect.sync(() => void store.delete(sid)),
    touch: (sid, at) =>
      Effect.sync(() => {
        const record = store.get(sid)
        if (record !== undefined) store.set(sid, { ...record, lastAccess: at })
      }),
    list: () => Effect.sync(() => [...store.values()].sort((a, b) => a.joinedAt - b.joinedAt))
  }
})

export class SessionRepo extends Context.Tag("swarmgate/SessionRepo")<SessionRepo, SessionRepoShape>() {
  static readonly memory: Layer.Layer<SessionRepo> = Layer.effect(SessionRepo, makeMemory)
}
