import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Scope, TestClock } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import { EngineLive } from "../../src/layers/Engine.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { EngineConfig } from "../../src/services/EngineConfig.js"
import { Runs } from "../../src/services/Runs.js"
import { SessionDirectory } from "../../src/services/SessionDirectory.js"
import { Sessions } from "../../src/services/Sessions.js"
import { blueprint, eventsUntil, seq, step } from "./harness.js"

const echo: AgentDef = { name: "echo", kind: "builtin", fn: "echo" }
const nap: AgentDef = { name: "nap", kind: "builtin", fn: "sleep" }

/** The engine as a layer over one storage that outlives each instance built from it, like a database file. */
const engineOverSharedStorage = Effect.map(Layer.build(MemoryStorage), (storage) =>
  EngineLive.pipe(
    Layer.provideMerge(SessionDirectory.fromSessions),
    Layer.provideMerge(Layer.orDie(Sessions.layer())),
    Layer.provideMerge(EngineConfig.layer()),
    Layer.provide(Layer.succeedContext(storage))
  ))

describe("resume", () => {
  it.scoped("a run stopped with the server is interrupted; resume finishes it without re-dispatching passed steps", () =>
    Effect.gen(function*() {
      const engine = yield* engineOverSharedStorage
      const bp = blueprint([echo, nap], seq(step("echo", "$.a", "$.echoed"), step("nap", "$.nap", "$.slept")))

      const first = yield* Scope.make()
      const runsA = yield* Effect.map(Layer.buildWithScope(engine, first), Context.get(Runs))
      const { run_id } = yield* runsA.launch({ blueprint: bp, input: { a: 1, nap: { ms: 1000 } } })
      yield* eventsUntil(run_id, (e) => e.type === "step_started" && e.ref === "nap").pipe(Effect.provideService(Runs, runsA))
      yield* Scope.close(first, Exit.void)
      const stopped = yield* runsA.get(run_id)
      expect(stopped.status).toBe("interrupted")
      expect(stopped.steps.map((s) => [s.ref, s.status])).toEqual([["echo", "passed"], ["nap", "running"]])

      const second = yield* Scope.make()
      const runsB = yield* Effect.map(Layer.buildWithScope(engine, second), Context.get(Runs))
      yield* runsB.resume(run_id)
      expect((yield* Effect.flip(runsB.resume(run_id)))._tag).toBe("NotInterrupted")
      yield* TestClock.adjust(Duration.seconds(1))
      const done = yield* runsB.awaitEnd(run_id)
      expect(done.status).toBe("done")
      expect(done.result).toEqual({ a: 1, nap: { ms: 1000 }, echoed: { agent: "echo", input: 1 }, slept: { ms: 1000 } })
      // echo ran once; the unfinished nap step kept its id
      expect(done.steps.map((s) => [s.ref, s.status])).toEqual([["echo", "passed"], ["nap", "passed"]])
      expect(done.steps[1]?.step_id).toBe(stopped.steps[1]?.step_id)
      yield* Scope.close(second, Exit.void)
    }))
  it.scoped("an interrupted run can be cancelled: it ends cancelled with finished_at, and cannot be resumed", () =>
    Effect.gen(function*() {
      const engine = yield* engineOverSharedStorage
      const bp = blueprint([nap], step("nap", "$.nap", "$.slept"))

      const first = yield* Scope.make()
      const runsA = yield* Effect.map(Layer.buildWithScope(engine, first), Context.get(Runs))
      const { run_id } = yield* runsA.launch({ blueprint: bp, input: { nap: { ms: 1000 } } })
      yield* eventsUntil(run_id, (e) => e.type === "step_started").pipe(Effect.provideService(Runs, runsA))
      yield* Scope.close(first, Exit.void)

      const second = yield* Scope.make()
      const runsB = yield* Effect.map(Layer.buildWithScope(engine, second), Context.get(Runs))
      expect((yield* runsB.get(run_id)).status).toBe("interrupted")
      yield* runsB.cancel(run_id)
      const cancelled = yield* runsB.get(run_id)
      expect(cancelled.status).toBe("cancelled")
      expect(typeof cancelled.finished_at).toBe("string")
      expect((yield* Effect.flip(runsB.resume(run_id)))._tag).toBe("NotInterrupted")
      expect((yield* Effect.flip(runsB.cancel(run_id)))._tag).toBe("RunAlreadyFinished")
      yield* Scope.close(second, Exit.void)
    }))
})
