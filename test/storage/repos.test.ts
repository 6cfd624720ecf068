/** One repository suite, run against every storage layer (memory and SQLite files). */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Blueprint } from "../../src/protocol/blueprint.js"
import { newOutId, newRunId, newSid, newStepId, newTaskId, type RunId, type TaskId } from "../../src/protocol/ids.js"
import { BlueprintRepo } from "../../src/services/repos/BlueprintRepo.js"
import { CapabilityRepo } from "../../src/services/repos/CapabilityRepo.js"
import { EventRepo } from "../../src/services/repos/EventRepo.js"
import { OutputRepo } from "../../src/services/repos/OutputRepo.js"
import { type RunRecord, RunRepo } from "../../src/services/repos/RunRepo.js"
import { SeatRepo } from "../../src/services/repos/SeatRepo.js"
import { SessionRepo } from "../../src/services/repos/SessionRepo.js"
import { type StepRecord, StepRepo } from "../../src/services/repos/StepRepo.js"
import { type TaskRecord, TaskRepo } from "../../src/services/repos/TaskRepo.js"
import { StorageInfo } from "../../src/services/repos/StorageInfo.js"
import { variants } from "./fixtures.js"

const bp = (id: string): Blueprint => ({
  id,
  agents: [{ name: "echo", kind: "builtin", fn: "echo" }],
  flow: { kind: "step", ref: "echo", in: { op: "path", at: "$" }, out: "$.r" }
} as Blueprint)

const task = (over: Partial<TaskRecord> = {}): TaskRecord => ({
  task_id: newTaskId(),
  blueprint_id: "b",
  blueprint: bp("b"),
  created_at: "2026-01-01T00:00:00.000Z",
  ...over
})

const run = (taskId: TaskId, over: Partial<RunRecord> = {}): RunRecord => ({
  run_id: newRunId(),
  task_id: taskId,
  status: "running",
  created_at: "2026-01-01T00:00:00.000Z",
  input: { a: 1 },
  ...over
})

const stepOf = (runId: RunId, over: Partial<StepRecord> = {}): StepRecord => ({
  step_id: newStepId(),
  run_id: runId,
  ref: "echo",
  attempt: 1,
  status: "running",
  started_at: "2026-01-01T00:00:00.000Z",
  location: "0",
  input: { x: [1, "two", null] },
  ...over
})

for (const variant of variants) {
  const test = <A, E>(name: string, body: () => Effect.Effect<A, E, any>) =>
    it.scoped(name, () => Effect.provide(body(), variant.fresh()) as Effect.Effect<A, unknown>)

  describe(`repositories (${variant.name})`, () => {
    test("storage says what it is", () =>
      Effect.gen(function*() {
        expect((yield* StorageInfo).kind).toBe(variant.name)
      }))

    test("sessions: insert, get, touch, list oldest join first, delete twice", () =>
      Effect.gen(function*() {
        const repo = yield* SessionRepo
        const [a, b] = [newSid(), newSid()]
        yield* repo.insert({ sid: b, tokenDigest: "d".repeat(64), joinedAt: 20, lastAccess: 20 })
        yield* repo.insert({ sid: a, tokenDigest: "e".repeat(64), desc: "first", joinedAt: 10, lastAccess: 10 })
        yield* repo.touch(a, 99)
        yield* repo.touch(newSid(), 5)
        expect(yield* repo.get(a)).toEqual(
          Option.some({ sid: a, tokenDigest: "e".repeat(64), desc: "first", joinedAt: 10, lastAccess: 99 })
        )
        expect((yield* repo.list()).map((s) => s.sid)).toEqual([a, b])
        yield* repo.delete(a)
        yield* repo.delete(a)
        expect(yield* repo.get(a)).toEqual(Option.none())
        expect((yield* repo.list()).map((s) => s.sid)).toEqual([b])
      }))

    test("blueprints: versions count from 1, list shows the latest sorted by id, remove restarts the count", () =>
      Effect.gen(function*() {
        const repo = yield* BlueprintRepo
        expect((yield* repo.put("zeta", bp("zeta"), "t1")).version).toBe(1)
        expect((yield* repo.put("alpha", bp("alpha"), "t2")).version).toBe(1)
        const second = yield* repo.put("zeta", { ...bp("zeta"), description: "v2" } as Blueprint, "t3")
        expect(second.version).toBe(2)
        expect(Option.map(yield* repo.get("zeta"), (r) => r.version)).toEqual(Option.some(2))
        expect(Option.map(yield* repo.get("zeta", 1), (r) => r.updated_at)).toEqual(Option.some("t1"))
        expect(yield* repo.get("zeta", 3)).toEqual(Option.none())
        expect(Option.map(yield* repo.get("zeta"), (r) => r.blueprint)).toEqual(Option.some(second.blueprint))
        expect(yield* repo.list).toEqual([
          { id: "alpha", version: 1, updated_at: "t2" },
          { id: "zeta", version: 2, updated_at: "t3" }
        ])
        expect(yield* repo.remove("zeta")).toBe(true)
        expect(yield* repo.remove("zeta")).toBe(false)
        expect(yield* repo.get("zeta")).toEqual(Option.none())
        expect((yield* repo.put("zeta", bp("zeta"), "t4")).version).toBe(1)
      }))

    test("tasks: get, list newest first", () =>
      Effect.gen(function*() {
        const repo = yield* TaskRepo
        const [t1, t2] = [task(), task({ blueprint_version: 3 })]
        yield* repo.insert(t1)
        yield* repo.insert(t2)
        expect(yield* repo.get(t2.task_id)).toEqual(Option.some(t2))
        expect(yield* repo.get(newTaskId())).toEqual(Option.none())
        expect((yield* repo.list).map((t) => t.task_id)).toEqual([t2.task_id, t1.task_id])
      }))

    test("runs: put replaces in place, list newest first with status and limit, by task oldest first", () =>
      Effect.gen(function*() {
        const repo = yield* RunRepo
        const [ta, tb] = [newTaskId(), newTaskId()]
        const r1 = run(ta)
        const r2 = run(tb)
        const r3 = run(ta, { status: "done", result: { ok: true }, finished_at: "t" })
        for (const r of [r1, r2, r3]) yield* repo.put(r)
        const r1done = { ...r1, status: "failed" as const, error: { message: "boom", failed_step: "echo" } }
        yield* repo.put(r1done)
        expect(yield* repo.get(r1.run_id)).toEqual(Option.some(r1done))
        expect((yield* repo.list({})).map((r) => r.run_id)).toEqual([r3.run_id, r2.run_id, r1.run_id])
        expect((yield* repo.list({ limit: 2 })).map((r) => r.run_id)).toEqual([r3.run_id, r2.run_id])
        expect((yield* repo.list({ status: "running" })).map((r) => r.run_id)).toEqual([r2.run_id])
        expect((yield* repo.listByTask(ta)).map((r) => r.run_id)).toEqual([r1.run_id, r3.run_id])
        expect(yield* repo.listByTask(newTaskId())).toEqual([])
      }))

    test("steps: the whole record round-trips (submission, parts), listByRun in first-stored order", () =>
      Effect.gen(function*() {
        const repo = yield* StepRepo
        const runId = newRunId()
        const s1 = stepOf(runId)
        const s2 = stepOf(runId, { ref: "op", seat: "main", verdicts: ["pass"] })
        yield* repo.put(s1)
        yield* repo.put(s2)
        yield* repo.put(stepOf(newRunId()))
        const submitted: StepRecord = {
          ...s1,
          status: "passed",
          finished_at: "t",
          value: { out: "x" },
          sealed: true,
          submission: { value: "x", verdict: "pass", at: "t" },
          parts: { diff: "d" },
          stats: { tokens: 3 }
        }
        yield* repo.put(submitted)
        expect(yield* repo.get(s1.step_id)).toEqual(Option.some(submitted))
        expect((yield* repo.listByRun(runId)).map((s) => s.step_id)).toEqual([s1.step_id, s2.step_id])
        expect(yield* repo.get(newStepId())).toEqual(Option.none())
      }))

    test("events: seq counts from 1 per run; list after a seq", () =>
      Effect.gen(function*() {
        const repo = yield* EventRepo
        const [ra, rb] = [newRunId(), newRunId()]
        const e1 = yield* repo.append({ type: "run_started", run_id: ra, at: "t", status: "running" })
        const e2 = yield* repo.append({ type: "step_started", run_id: ra, at: "t", ref: "echo", attempt: 1 })
        const f1 = yield* repo.append({ type: "run_started", run_id: rb, at: "t" })
        expect([e1.seq, e2.seq, f1.seq]).toEqual([1, 2, 1])
        expect(yield* repo.list(ra)).toEqual([e1, e2])
        expect(yield* repo.list(ra, 1)).toEqual([e2])
        expect(yield* repo.list(newRunId())).toEqual([])
      }))

    test("outputs: bytes round-trip; latest by name in a run or in any run", () =>
      Effect.gen(function*() {
        const repo = yield* OutputRepo
        const [ra, rb] = [newRunId(), newRunId()]
        const out = (runId: RunId, name: string, body: Uint8Array) => ({
          out_id: newOutId(),
          run_id: runId,
          step_id: newStepId(),
          name,
          content_type: "application/octet-stream",
          body,
          bytes: body.length,
          sha256: "0".repeat(64),
          created_at: "t"
        })
        const o1 = out(ra, "report", new Uint8Array([0, 1, 2, 255]))
        const o2 = out(rb, "report", new Uint8Array([7]))
        const o3 = out(ra, "other", new Uint8Array(0))
        for (const o of [o1, o2, o3]) yield* repo.put(o)
        const got = yield* repo.get(o1.out_id)
        expect(Option.map(got, (o) => [...o.body])).toEqual(Option.some([0, 1, 2, 255]))
        expect(Option.map(got, ({ body: _, ...rest }) => rest)).toEqual(Option.some((({ body: _, ...rest }) => rest)(o1)))
        expect(Option.map(yield* repo.latestByName(ra, "report"), (o) => o.out_id)).toEqual(Option.some(o1.out_id))
        expect(Option.map(yield* repo.latestByName(undefined, "report"), (o) => o.out_id)).toEqual(Option.some(o2.out_id))
        expect(Option.map(yield* repo.get(o3.out_id), (o) => o.body.length)).toEqual(Option.some(0))
        expect(yield* repo.latestByName(rb, "other")).toEqual(Option.none())
      }))

    test("seats: put replaces the (run, slot) row, listByRun in declaration order", () =>
      Effect.gen(function*() {
        const repo = yield* SeatRepo
        const [ra, rb] = [newRunId(), newRunId()]
        const sid = newSid()
        yield* repo.put({ run_id: ra, slot: "lead", sid: null, generation: 0 })
        yield* repo.put({ run_id: ra, slot: "critic", sid: null, generation: 0 })
        yield* repo.put({ run_id: rb, slot: "lead", sid, generation: 1 })
        yield* repo.put({ run_id: ra, slot: "lead", sid, generation: 1 })
        expect(yield* repo.listByRun(ra)).toEqual([
          { run_id: ra, slot: "lead", sid, generation: 1 },
          { run_id: ra, slot: "critic", sid: null, generation: 0 }
        ])
        expect(yield* repo.listByRun(newRunId())).toEqual([])
      }))

    test("capabilities: put replaces (a re-mint moves the expiry)", () =>
      Effect.gen(function*() {
        const repo = yield* CapabilityRepo
        const record = {
          digest: "a".repeat(64),
          kind: "handle" as const,
          step_id: newStepId(),
          run_id: newRunId(),
          expires_at: 1_000
        }
        yield* repo.put(record)
        yield* repo.put({ ...record, expires_at: 2_000 })
        expect(yield* repo.get(record.digest)).toEqual(Option.some({ ...record, expires_at: 2_000 }))
        expect(yield* repo.get("b".repeat(64))).toEqual(Option.none())
      }))
  })
}
