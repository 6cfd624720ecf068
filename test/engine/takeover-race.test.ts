/**
 * The take-over race (issue 8), interleaved on purpose: the step has read its seat's holder
 * (A) and is held by a latch just before it registers its spawn; meanwhile B takes the seat
 * over; then the latch opens. The spawn must not stay owed by A: it ends with B, and A is
 * left owing nothing (any spawn it got is cancelled with seat_taken_over).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Option, Ref } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import { EngineLive } from "../../src/layers/Engine.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { EngineConfig } from "../../src/services/EngineConfig.js"
import { Runs } from "../../src/services/Runs.js"
import { SessionDirectory } from "../../src/services/SessionDirectory.js"
import { Sessions } from "../../src/services/Sessions.js"
import { blueprint, defaultHandler, startOperator, step } from "./harness.js"

const operatorAgent = (name: string): AgentDef => ({ name, kind: "operator", operator: "lead" }) as AgentDef
const seats = { operators: [{ name: "lead" }] }

/** Holds the n-th lookup of `sid` (the step's read of its holder's roles) until `open`. */
interface Latch {
  readonly sid: Ref.Ref<string | undefined>
  readonly reached: Deferred.Deferred<void>
  readonly open: Deferred.Deferred<void>
}

const latchedLayer = (latch: Latch) => {
  const directory = Layer.unwrapEffect(Effect.gen(function*() {
    const sessions = yield* Sessions
    const seen = yield* Ref.make(0)
    return SessionDirectory.fromLookup((sid) =>
      Effect.gen(function*() {
        if (sid === (yield* Ref.get(latch.sid))) {
          // 1st lookup: launch checks the sid; 2nd: the step reads its holder, then registers
          if ((yield* Ref.updateAndGet(seen, (n) => n + 1)) === 2) {
            yield* Deferred.succeed(latch.reached, undefined)
            yield* Deferred.await(latch.open)
          }
        }
        return Option.map(yield* sessions.get(sid), (live) => ({ session: live.session, roles: live.roles }))
      }), (f) => sessions.onTeardown?.(f) ?? Effect.void)
  }))
  return EngineLive.pipe(
    Layer.provideMerge(directory),
    Layer.provideMerge(Layer.orDie(Sessions.layer())),
    Layer.provideMerge(MemoryStorage),
    Layer.provideMerge(EngineConfig.layer({ publicUrl: "http://engine.test:7777" }))
  )
}

describe("take-over race", () => {
  it.live("a spawn registered after acquire's seat change does not stay with the old holder", () =>
    Effect.gen(function*() {
      const latch: Latch = {
        sid: yield* Ref.make<string | undefined>(undefined),
        reached: yield* Deferred.make<void>(),
        open: yield* Deferred.make<void>()
      }
      return yield* Effect.scoped(Effect.gen(function*() {
        const runs = yield* Runs
        const sessions = yield* Sessions
        // A never answers; B's sub-agent does the work
        const A = yield* startOperator(() => Effect.succeedNone)
        const B = yield* startOperator(defaultHandler(() => "by B"))
        yield* Ref.set(latch.sid, A.sid)
        const { run_id } = yield* runs.launch({
          blueprint: blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats),
          operator_sid: A.sid
        })
        // the step holds A as its holder and has not registered its spawn yet
        yield* Deferred.await(latch.reached)
        const taken = yield* runs.acquire(run_id, B.sid, "lead")
        expect(taken.previous?.sid).toBe(A.sid)
        yield* Deferred.succeed(latch.open, undefined)

        const run = yield* runs.awaitEnd(run_id).pipe(Effect.timeout("5 seconds"))
        expect(run.status, JSON.stringify(run)).toBe("done")
        expect(run.result).toMatchObject({ plan: "by B" })
        // A owes nothing, and whatever spawn reached it was cancelled as a take-over
        const liveA = Option.getOrThrow(yield* sessions.get(A.sid))
        expect(yield* liveA.session.pending).toEqual([])
        const framesA = yield* A.frames
        for (const spawn of framesA.filter((f) => f.type === "spawn")) {
          expect(framesA).toContainEqual({ type: "cancel", req_id: (spawn as { req_id: string }).req_id, reason: "seat_taken_over" })
        }
      }).pipe(Effect.provide(latchedLayer(latch))))
    }), 15_000)
})
