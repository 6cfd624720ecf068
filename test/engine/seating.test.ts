// Seating a session in a run (RunSeating.acquire through Runs): each refusal names what is
// wrong and how to put it right, with the fields the HTTP layer turns into its envelope.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import type { RunId, Sid, TaskId } from "../../src/protocol/ids.js"
import { RunLifecycle } from "../../src/services/RunLifecycle.js"
import { Runs } from "../../src/services/Runs.js"
import { blueprint, defaultHandler, eventsUntil, startOperator, step, testLayer } from "./harness.js"

const operatorAgent = (name: string, operator: string): AgentDef =>
  ({ name, kind: "operator", operator }) as AgentDef

describe("seating a session", () => {
  it.scoped("a run with two seats needs the slot named, and an unknown slot is refused with the seats to use", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([operatorAgent("planner", "lead")], step("planner", "$", "$.plan"), {
        operators: [{ name: "lead" }, { name: "review" }]
      })
      const { run_id } = yield* runs.launch({ blueprint: bp })
      yield* eventsUntil(run_id, (e) => e.type === "step_status" && e.status === "waiting_for_operator")
      const op = yield* startOperator(defaultHandler(() => "x"))

      const unnamed = yield* Effect.flip(runs.acquire(run_id, op.sid))
      expect(unnamed).toMatchObject({
        _tag: "SlotRequired",
        runId: run_id,
        seats: ["lead", "review"],
        message: `run ${run_id} has 2 seats: name one as "slot" (lead, review)`
      })
      const unknown = yield* Effect.flip(runs.acquire(run_id, op.sid, "nope"))
      expect(unknown).toMatchObject({
        _tag: "SeatNotFound",
        runId: run_id,
        slot: "nope",
        message: `run ${run_id} has no seat "nope": use one of lead, review`
      })
      // a named seat of the two is taken
      expect(yield* runs.acquire(run_id, op.sid, "review")).toEqual({ slot: "review", generation: 1 })
      yield* runs.cancel(run_id)
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a finished run takes no seat, and says how it finished", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([operatorAgent("planner", "lead")], step("planner", "$", "$.plan"), {
        operators: [{ name: "lead" }]
      })
      const { run_id } = yield* runs.launch({ blueprint: bp })
      yield* runs.cancel(run_id)
      const op = yield* startOperator(defaultHandler(() => "x"))
      const refused = yield* Effect.flip(runs.acquire(run_id, op.sid, "lead"))
      expect(refused).toMatchObject({
        _tag: "RunAlreadyFinished",
        runId: run_id,
        status: "cancelled",
        message: `run ${run_id} has already finished (cancelled)`
      })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a run that declares no seats says so, with or without a slot", () =>
    Effect.gen(function*() {
      const lifecycle = yield* RunLifecycle
      const runId = "R-seatless" as RunId
      const run = { run_id: runId, task_id: "T-seatless" as TaskId, status: "running" as const, created_at: "2026-01-01T00:00:00.000Z", input: {} }
      const sid = "S-seatless" as Sid
      expect(yield* Effect.flip(lifecycle.acquire(run, sid))).toMatchObject({
        _tag: "SeatNotFound",
        runId,
        slot: "",
        message: `run ${runId} declares no operator seats`
      })
      expect(yield* Effect.flip(lifecycle.acquire(run, sid, "lead"))).toMatchObject({
        _tag: "SeatNotFound",
        slot: "lead",
        message: `run ${runId} declares no operator seats`
      })
    }).pipe(Effect.provide(testLayer())))
})
