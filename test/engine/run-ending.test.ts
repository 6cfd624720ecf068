// How a run's end is recorded (RunEnding): the run record and the last events a follower
// reads, and the steps a fanout left running closed as `cancelled` with their own event.
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { AgentDef, FlowNode } from "../../src/protocol/blueprint.js"
import { EngineLive } from "../../src/layers/Engine.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { EngineConfig } from "../../src/services/EngineConfig.js"
import { Runs } from "../../src/services/Runs.js"
import { SessionDirectory } from "../../src/services/SessionDirectory.js"
import { Sessions } from "../../src/services/Sessions.js"
import { blueprint, eventsUntil, step, testLayer } from "./harness.js"

const fail: AgentDef = { name: "boom", kind: "builtin", fn: "fail" }
const nap: AgentDef = { name: "nap", kind: "builtin", fn: "sleep" }
const cancelledMessage = "the run ended before this step finished (another branch of its fanout decided the run)"

// fanout all over ["boom", "nap"]: the boom branch fails at once, the nap branch sleeps on the TestClock
const boomOrNap: FlowNode = {
  kind: "fanout",
  items: { op: "lit", value: ["boom", "nap"] },
  bind: "$.item",
  join: "all",
  out: "$.joined",
  body: {
    kind: "branch",
    cond: { op: "in", needle: { op: "path", at: "$.item" }, haystack: { op: "lit", value: ["boom"] } },
    then: step("boom", "$.why", "$.x"),
    else: step("nap", "$.nap", "$.y")
  }
}

describe("the end of a run", () => {
  it.scoped("a failed run's last event carries its error; a sibling left running gets its own cancelled step_finished", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([fail, nap], boomOrNap),
        input: { why: { code: 7 }, nap: { ms: 60_000 } }
      })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("failed")
      expect(run.error).toMatchObject({ failed_step: "boom", step_value: { code: 7 } })
      expect(typeof run.finished_at).toBe("string")
      expect(run.result).toBeUndefined()
      const napStep = run.steps.find((s) => s.ref === "nap")
      expect(napStep).toMatchObject({ status: "cancelled", error: cancelledMessage })

      const events = [...(yield* Stream.runCollect(yield* runs.events(run_id)))]
      const closed = events.filter((e) => e.type === "step_finished" && e.status === "cancelled")
      expect(closed).toEqual([expect.objectContaining({
        type: "step_finished",
        run_id,
        step_id: napStep?.step_id,
        ref: "nap",
        attempt: 1,
        status: "cancelled",
        message: cancelledMessage
      })])
      const last = events[events.length - 1]
      expect(last).toMatchObject({ type: "run_finished", run_id, status: "failed", error: run.error, message: run.error?.message })
      // a done run's last event has no error
      const ok = yield* runs.launch({ blueprint: blueprint([nap], step("nap", "$.nap", "$.y")), input: { nap: { ms: 0 } } })
      const done = yield* runs.awaitEnd(ok.run_id)
      expect(done.status).toBe("done")
      const okEvents = [...(yield* Stream.runCollect(yield* runs.events(ok.run_id)))]
      const okLast = okEvents[okEvents.length - 1]
      expect(okLast).toMatchObject({ type: "run_finished", status: "done" })
      expect(okLast).not.toHaveProperty("error")
      expect(okLast).not.toHaveProperty("message")
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a run stopped with the server has not ended: interrupted, no finished_at, its step still running, and its log says why", () =>
    Effect.gen(function*() {
      const storage = yield* Layer.build(MemoryStorage)
      const engine = EngineLive.pipe(
        Layer.provideMerge(SessionDirectory.fromSessions),
        Layer.provideMerge(Layer.orDie(Sessions.layer())),
        Layer.provideMerge(EngineConfig.layer()),
        Layer.provide(Layer.succeedContext(storage))
      )
      const first = yield* Scope.make()
      const runsA = yield* Effect.map(Layer.buildWithScope(engine, first), Context.get(Runs))
      const { run_id } = yield* runsA.launch({ blueprint: blueprint([nap], step("nap", "$.nap", "$.y")), input: { nap: { ms: 60_000 } } })
      yield* eventsUntil(run_id, (e) => e.type === "step_started").pipe(Effect.provideService(Runs, runsA))
      yield* Scope.close(first, Exit.void)

      const second = yield* Scope.make()
      const runsB = yield* Effect.map(Layer.buildWithScope(engine, second), Context.get(Runs))
      const stopped = yield* runsB.get(run_id)
      expect(stopped.status).toBe("interrupted")
      expect(stopped).not.toHaveProperty("finished_at")
      expect(stopped.steps.map((s) => s.status)).toEqual(["running"])
      const events = yield* eventsUntil(run_id, (e) => e.type === "run_interrupted").pipe(Effect.provideService(Runs, runsB))
      expect(events.filter((e) => e.type === "run_finished" || e.type === "step_finished")).toEqual([])
      expect(events[events.length - 1]).toMatchObject({
        type: "run_interrupted",
        run_id,
        status: "interrupted",
        message: "the server stopped"
      })
      yield* Scope.close(second, Exit.void)
    }))
})
