// How a run's end is recorded (RunEnding): the run record and the last events a follower
// reads, and the steps a fanout left running closed as `cancelled` with their own event.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { AgentDef, FlowNode } from "../../src/protocol/blueprint.js"
import { Runs } from "../../src/services/Runs.js"
import { blueprint, step, testLayer } from "./harness.js"

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
})
