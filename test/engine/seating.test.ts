// Seating a session in a run (RunSeating.acquire through Runs): each refusal names what is
// wrong and how to put it right, with the fields the HTTP layer turns into its envelope.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option, Ref } from "effect"
import type { AgentDef, FlowNode } from "../../src/protocol/blueprint.js"
import type { SpawnFrame } from "../../src/protocol/frames.js"
import type { RunId, Sid, TaskId } from "../../src/protocol/ids.js"
import { RunLifecycle } from "../../src/services/RunLifecycle.js"
import { Runs } from "../../src/services/Runs.js"
import { Sessions } from "../../src/services/Sessions.js"
import { Worker } from "../../src/services/Worker.js"
import { blueprint, defaultHandler, eventsUntil, type Handler, startOperator, step, testLayer } from "./harness.js"

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
      // a cancelled run has no error (RunEnding: only a failed run gets one)
      expect(yield* runs.get(run_id)).not.toHaveProperty("error")
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

// two seats, one step each, both out at once: "a" goes to lead's planner, "b" to review's checker
const twoSeats = blueprint(
  [operatorAgent("planner", "lead"), operatorAgent("checker", "review")],
  {
    kind: "fanout",
    items: { op: "lit", value: ["a", "b"] },
    bind: "$.item",
    join: "all",
    out: "$.joined",
    body: {
      kind: "branch",
      cond: { op: "in", needle: { op: "path", at: "$.item" }, haystack: { op: "lit", value: ["a"] } },
      then: step("planner", "$.item", "$.r"),
      else: step("checker", "$.item", "$.r")
    }
  } as FlowNode,
  { operators: [{ name: "lead" }, { name: "review" }] }
)

/** A session holding both seats that never answers; the worker handles of its two spawns, by prompt. */
const holdBoth = Effect.gen(function*() {
  const runs = yield* Runs
  const spawns = yield* Ref.make<ReadonlyArray<SpawnFrame>>([])
  const both = yield* Deferred.make<void>()
  const handler: Handler = (frame) =>
    frame.type !== "spawn" ? Effect.succeedNone : Effect.gen(function*() {
      const seen = yield* Ref.updateAndGet(spawns, (s) => [...s, frame])
      if (seen.length === 2) yield* Deferred.succeed(both, undefined)
      return Option.none()
    })
  const holder = yield* startOperator(handler)
  const { run_id } = yield* runs.launch({ blueprint: twoSeats, operator_sid: holder.sid })
  yield* Deferred.await(both)
  const worker = yield* Worker
  const handles: Record<string, string> = {}
  for (const f of yield* Ref.get(spawns)) {
    const handle = f.worker_handle ?? ""
    handles[String((yield* worker.prompt(handle)).prompt)] = handle
  }
  return { run_id, holder, lead: handles["a"] ?? "", review: handles["b"] ?? "" }
})

describe("what a new holder means for the old credentials", () => {
  it.scoped("taking over one seat supersedes that seat's credentials only", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const { lead, review, run_id } = yield* holdBoth
      const fresh = yield* startOperator(() => Effect.succeedNone)
      yield* runs.acquire(run_id, fresh.sid, "lead")
      expect((yield* Effect.flip(worker.submit(lead, "late")))._tag).toBe("Superseded")
      // the review seat did not change hands: its worker still submits
      yield* worker.submit(review, "checked")
      yield* runs.cancel(run_id)
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a torn-down session leaves its seats: the credentials of both seats' steps stop counting", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const sessions = yield* Sessions
      const { holder, lead, review, run_id } = yield* holdBoth
      yield* sessions.teardown(holder.sid, "test")
      expect((yield* runs.get(run_id)).seats).toEqual({ lead: null, review: null })
      expect((yield* Effect.flip(worker.submit(lead, "late")))._tag).toBe("Superseded")
      expect((yield* Effect.flip(worker.submit(review, "late")))._tag).toBe("Superseded")
      yield* runs.cancel(run_id)
    }).pipe(Effect.provide(testLayer())))
})
