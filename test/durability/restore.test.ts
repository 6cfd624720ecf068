/**
 * protocol.md §8 on SQLite files: sessions come back after the database is closed and
 * opened again (a restart), registered and disconnected, with their old tokens; one idle
 * past the horizon is not restored and its row is deleted.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Scope, TestClock } from "effect"
import { join } from "node:path"
import { SqliteStorage } from "../../src/layers/SqliteStorage.js"
import { SessionRepo } from "../../src/services/repos/SessionRepo.js"
import { Sessions } from "../../src/services/Sessions.js"
import { tempDir } from "../storage/fixtures.js"

/** One server lifetime: storage and registry built in their own scope. */
const open = (dataDir: string, scope: Scope.Scope) =>
  Layer.buildWithScope(
    Sessions.layer({ idleHorizon: "1 hour" }).pipe(Layer.provideMerge(SqliteStorage(dataDir))),
    scope
  )

describe("session restore from SQLite", () => {
  it.effect("restored with the old token and disconnected; one idle past the horizon is deleted instead", () =>
    Effect.gen(function*() {
      const dataDir = join(tempDir(), "data")
      const first = yield* Scope.make()
      const before = Context.get(yield* open(dataDir, first), Sessions)
      const kept = yield* before.login("kept")
      const stale = yield* before.login("stale")
      yield* TestClock.adjust("40 minutes")
      yield* before.touch(kept.sid)
      yield* Scope.close(first, Exit.void)

      yield* TestClock.adjust("30 minutes") // stale: 70 min idle; kept: 30 min
      const second = yield* Scope.make()
      const ctx = yield* open(dataDir, second)
      const after = Context.get(ctx, Sessions)
      const restored = yield* after.authenticate(kept.sid, kept.token)
      expect(restored).toMatchObject({ sid: kept.sid, desc: "kept", lastAccess: 40 * 60_000 })
      expect(yield* restored.session.state).toBe("disconnected")
      const refused = yield* Effect.flip(after.authenticate(stale.sid, stale.token))
      expect(refused._tag).toBe("UnknownSession")
      expect(yield* Context.get(ctx, SessionRepo).get(stale.sid)).toEqual(Option.none())
      yield* Scope.close(second, Exit.void)
    }))
})
