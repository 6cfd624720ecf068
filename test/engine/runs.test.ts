import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import { Blueprints } from "../../src/services/Blueprints.js"
import { Runs } from "../../src/services/Runs.js"
import { blueprint, eventsUntil, seq, step, testLayer } from "./harness.js"

const identity: AgentDef = { name: "id", kind: "builtin", fn: "identity" }
const echo: AgentDef = { name: "echo", kind: "builtin", fn: "echo" }
const fail: AgentDef = { name: "boom", kind: "builtin", fn: "fail" }
const sleep: AgentDef = { name: "nap", kind: "builtin", fn: "sleep" }

describe("Runs", () => {
  it.scoped("launch → done with result = final context, input merged over default_input", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([identity, echo], seq(step("id", "$.a", "$.copy"), step("echo", "$.b", "$.echoed")), {
        default_input: { a: 1, b: "default" }
      })
      const launched = yield* runs.launch({ blueprint: bp, input: { b: "given" } })
      expect(launched.status).toBe("running")
      expect(launched.task_id).toMatch(/^T-[0-9a-f]{16}$/)
      expect(launched.run_id).toMatch(/^R-[0-9a-f]{16}$/)
      const run = yield* runs.awaitEnd(launched.run_id)
      expect(run.status).toBe("done")
      expect(run.input).toEqual({ a: 1, b: "given" })
      expect(run.result).toEqual({ a: 1, b: "given", copy: 1, echoed: { agent: "echo", input: "given" } })
      expect(run.finished_at).toBeDefined()
      expect(run.steps.map((s) => [s.ref, s.status, s.attempt])).toEqual([["id", "passed", 1], ["echo", "passed", 1]])
      expect(run.steps[0]?.step_id).toMatch(/^ST-[0-9a-f]{16}$/)
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a blocked step fails the run with {message, failed_step, step_value}", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([identity, fail], seq(step("boom", "$.why", "$.x"), step("id", "$", "$.never")))
      const { run_id } = yield* runs.launch({ blueprint: bp, input: { why: { code: 7 } } })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("failed")
      expect(run.error?.failed_step).toBe("boom")
      expect(run.error?.step_value).toEqual({ code: 7 })
      expect(run.error?.message).toContain("boom")
      expect(run.steps.map((s) => [s.ref, s.status])).toEqual([["boom", "blocked"]])
      expect(run.result).toBeUndefined()
    }).pipe(Effect.provide(testLayer())))

  it.scoped("an unknown system_prompt placeholder fails the step naming it", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const agent: AgentDef = { name: "id", kind: "builtin", fn: "identity", system_prompt: "Do {{ mystery }}" }
      const { run_id } = yield* runs.launch({ blueprint: blueprint([agent], step("id", "$", "$.x")), input: { a: 1 } })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("failed")
      expect(run.steps[0]?.status).toBe("failed")
      expect(run.steps[0]?.error).toContain("mystery")
      expect(run.error?.message).toContain("mystery")
    }).pipe(Effect.provide(testLayer())))

  it.scoped("events come in order, and a late subscriber gets the same replay", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([identity], seq(step("id", "$.a", "$.b"), step("id", "$.b", "$.c")))
      const { run_id } = yield* runs.launch({ blueprint: bp, input: { a: 1 } })
      const early = yield* Effect.fork(Stream.runCollect(yield* runs.events(run_id)))
      yield* runs.awaitEnd(run_id)
      const live = [...(yield* Fiber.join(early))]
      expect(live.map((e) => e.type)).toEqual([
        "run_started",
        "step_started",
        "step_finished",
        "step_started",
        "step_finished",
        "run_finished"
      ])
      expect(live.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
      expect(live.every((e) => e.run_id === run_id)).toBe(true)
      expect(live[2]).toMatchObject({ ref: "id", status: "passed" })
      expect(live[5]).toMatchObject({ status: "done" })
      const late = [...(yield* Stream.runCollect(yield* runs.events(run_id)))]
      expect(late).toEqual(live)
    }).pipe(Effect.provide(testLayer())))

  it.scoped("cancel during a builtin sleep → cancelled, the step too", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([sleep, identity], seq(step("nap", "$.nap", "$.slept"), step("id", "$", "$.after")))
      const { run_id } = yield* runs.launch({ blueprint: bp, input: { nap: { ms: 60_000 } } })
      yield* eventsUntil(run_id, (e) => e.type === "step_started")
      yield* runs.cancel(run_id)
      const run = yield* runs.get(run_id)
      expect(run.status).toBe("cancelled")
      expect(run.steps.map((s) => [s.ref, s.status])).toEqual([["nap", "cancelled"]])
      const events = [...(yield* Stream.runCollect(yield* runs.events(run_id)))]
      expect(events.at(-1)).toMatchObject({ type: "run_finished", status: "cancelled" })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("cancel of a finished run is a conflict; unknown ids are not found", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const { run_id } = yield* runs.launch({ blueprint: blueprint([identity], step("id", "$", "$.x")) })
      yield* runs.awaitEnd(run_id)
      const err = yield* Effect.flip(runs.cancel(run_id))
      expect(err._tag).toBe("RunAlreadyFinished")
      expect((yield* Effect.flip(runs.cancel("R-0000000000000000")))._tag).toBe("RunNotFound")
      expect((yield* Effect.flip(runs.get("R-0000000000000000")))._tag).toBe("RunNotFound")
      expect((yield* Effect.flip(runs.resume(run_id)))._tag).toBe("NotInterrupted")
    }).pipe(Effect.provide(testLayer())))

  it.scoped("an invalid inline blueprint is refused with every problem, and nothing is created", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const err = yield* Effect.flip(runs.launch({ blueprint: { agents: [], flow: { kind: "nope" }, extra: 1 } }))
      expect(err._tag).toBe("InvalidBlueprint")
      if (err._tag === "InvalidBlueprint") expect(err.problems.length).toBeGreaterThanOrEqual(2)
      expect(yield* runs.listTasks).toEqual([])
      expect((yield* Effect.flip(runs.launch({ blueprint: "missing" })))._tag).toBe("BlueprintNotFound")
      const unknownSid = yield* Effect.flip(
        runs.launch({ blueprint: blueprint([identity], step("id", "$", "$.x")), operator_sid: "S-" + "0".repeat(32) })
      )
      expect(unknownSid._tag).toBe("UnknownSession")
      expect(yield* runs.listTasks).toEqual([])
    }).pipe(Effect.provide(testLayer())))

  it.scoped("tasks: stored blueprint by id, a second run of the task, listings", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const blueprints = yield* Blueprints
      const mismatch = yield* Effect.flip(blueprints.put("copy", blueprint([identity], step("id", "$.a", "$.b"))))
      expect(mismatch.problems).toEqual([expect.objectContaining({ path: "$.id" })])
      const v1 = { ...blueprint([identity], step("id", "$.a", "$.b")), id: "copy" }
      expect(yield* blueprints.put("copy", v1)).toEqual({ id: "copy", version: 1 })
      const { id: _, ...v2 } = blueprint([identity], step("id", "$.a", "$.c"))
      expect((yield* blueprints.put("copy", v2)).version).toBe(2)
      expect((yield* blueprints.get("copy", 1)).blueprint.flow).toEqual(v1.flow)
      expect((yield* blueprints.list).map((b) => [b.id, b.version])).toEqual([["copy", 2]])
      const first = yield* runs.launch({ blueprint: "copy", input: { a: 1 } })
      yield* runs.awaitEnd(first.run_id)
      const second = yield* runs.runTask(first.task_id, { input: { a: 2 } })
      expect(second.task_id).toBe(first.task_id)
      const done = yield* runs.awaitEnd(second.run_id)
      expect(done.result).toEqual({ a: 2, c: 2 })
      const task = yield* runs.getTask(first.task_id)
      expect(task.blueprint_id).toBe("copy")
      expect(task.blueprint_version).toBe(2)
      expect(task.runs.map((r) => r.run_id)).toEqual([first.run_id, second.run_id])
      expect(yield* runs.listTasks).toEqual([{
        task_id: first.task_id,
        blueprint_id: "copy",
        created_at: task.created_at,
        last_run_id: second.run_id,
        last_status: "done"
      }])
      expect((yield* runs.list()).map((r) => r.run_id)).toEqual([second.run_id, first.run_id])
      expect((yield* runs.list({ limit: 1 })).map((r) => r.run_id)).toEqual([second.run_id])
      expect(yield* runs.list({ status: "failed" })).toEqual([])
      expect((yield* Effect.flip(runs.runTask("T-0000000000000000", {})))._tag).toBe("TaskNotFound")
    }).pipe(Effect.provide(testLayer())))
})
