/**
 * Steps, the one owner of step records: seat generations (a take-over drops what the
 * displaced worker sent; a credential of an older generation is refused), what each verb
 * writes, and the refusals a worker sees for a step that is missing, finished or closed.
 * The last block holds one storage write (the latch) to force a worker's write against the
 * engine's `finish` or `open` of a seated step: the step lock serializes them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Layer, Option } from "effect"
import { makeReqId, newSid, RunId, StepId } from "../../src/protocol/ids.js"
import type { StepRecord } from "../../src/protocol/records.js"
import { StepRepo } from "../../src/services/repos/StepRepo.js"
import { Steps } from "../../src/services/Steps.js"
import { heldSteps, makeLatch, parkedOrDone, StepWrites, within } from "../promises/latch.js"

const layer = Steps.layer.pipe(Layer.provideMerge(StepRepo.memory))
const RUN = RunId.make("R-00000000000000c1")
let next = 0
const step = (extra: Partial<StepRecord> = {}): StepRecord => ({
  step_id: StepId.make(`ST-00000000000000${(0xd0 + next++).toString(16)}`),
  run_id: RUN,
  ref: "writer",
  attempt: 1,
  status: "running",
  started_at: "2026-01-01T00:00:00.000Z",
  location: "$.flow",
  input: null,
  seat: "main",
  ...extra
})
const at = "2026-01-01T00:00:01.000Z"
const sid = newSid()
const spawnA = makeReqId(sid, "spawn")
const spawnB = makeReqId(sid, "spawn")

/** `_tag` and `message` of a failure, or "ok". */
const outcome = <A, E extends { _tag: string; message: string }>(effect: Effect.Effect<A, E, Steps>) =>
  Effect.map(Effect.either(effect), (e) => Either.isLeft(e) ? { tag: e.left._tag, message: e.left.message } : "ok")

const stored = (stepId: StepId) => Effect.flatMap(Steps, (steps) => Effect.map(steps.get(stepId), Option.getOrThrow))

describe("Steps: seat generations", () => {
  it.effect("a take-over (newer generation) drops the displaced worker's parts and result and refuses its credential", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step()
      yield* steps.open(s)
      yield* steps.stagePart(s.step_id, "notes", 1, 0)
      yield* steps.acceptSubmission(s.step_id, { value: "old", verdict: "pass", at }, 0)
      yield* steps.supersede(s.step_id, 1)
      const after = yield* stored(s.step_id)
      expect(after.worker_generation).toBe(1)
      expect(after.submission).toBeUndefined()
      expect(after.parts).toBeUndefined()
      expect(yield* outcome(steps.acceptSubmission(s.step_id, { value: "late", verdict: "pass", at }, 0))).toEqual({
        tag: "Superseded",
        message: `this step was handed to another seat holder (generation 1); this credential was minted for generation 0`
      })
      expect(yield* outcome(steps.takingInput(s.step_id, 0))).toMatchObject({ tag: "Superseded" })
      expect(yield* outcome(steps.stagePart(s.step_id, "p", 2, 0))).toMatchObject({ tag: "Superseded" })
      // the new holder's credential (and a newer one) is taken
      expect(yield* outcome(steps.takingInput(s.step_id, 1))).toBe("ok")
      expect(yield* outcome(steps.acceptSubmission(s.step_id, { value: "new", verdict: "pass", at }, 1))).toBe("ok")
      expect((yield* stored(s.step_id)).submission?.value).toBe("new")
    }).pipe(Effect.provide(layer)))

  it.effect("a supersede at the current or an older generation changes nothing", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step()
      yield* steps.open(s)
      yield* steps.spawnRecorded(s.step_id, spawnA, 2)
      yield* steps.stagePart(s.step_id, "notes", 1, 2)
      yield* steps.acceptSubmission(s.step_id, { value: "kept", verdict: "pass", at }, 2)
      yield* steps.supersede(s.step_id, 2)
      yield* steps.supersede(s.step_id, 1)
      expect(yield* stored(s.step_id)).toMatchObject({
        worker_generation: 2,
        submission: { value: "kept" },
        parts: { notes: 1 }
      })
    }).pipe(Effect.provide(layer)))

  it.effect("a sealed or finished step keeps its result through a supersede", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const sealed = step()
      const done = step()
      for (const s of [sealed, done]) {
        yield* steps.open(s)
        yield* steps.acceptSubmission(s.step_id, { value: "mine", verdict: "pass", at }, 0)
      }
      yield* steps.seal(sealed.step_id)
      yield* steps.finish(done.step_id, { status: "passed", value: "mine", source: "submit" }, at)
      yield* steps.supersede(sealed.step_id, 5)
      yield* steps.supersede(done.step_id, 5)
      for (const s of [sealed, done]) {
        const r = yield* stored(s.step_id)
        expect(r.submission?.value).toBe("mine")
        expect(r.worker_generation).toBeUndefined()
      }
    }).pipe(Effect.provide(layer)))

  it.effect("spawnRecorded keeps the spawn's req_id and the highest generation seen", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step()
      yield* steps.open(s)
      yield* steps.spawnRecorded(s.step_id, spawnA, 3)
      expect(yield* stored(s.step_id)).toMatchObject({ spawn_req_id: spawnA, worker_generation: 3 })
      // a resume re-issues the spawn with an older generation number: the newer one stands
      yield* steps.spawnRecorded(s.step_id, spawnB, 1)
      expect(yield* stored(s.step_id)).toMatchObject({ spawn_req_id: spawnB, worker_generation: 3 })
      expect(yield* outcome(steps.takingInput(s.step_id, 2))).toMatchObject({ tag: "Superseded" })
    }).pipe(Effect.provide(layer)))
})

describe("Steps: what each verb writes", () => {
  it.effect("parts accumulate by name until the submit; after it a part is refused with the submit's time", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step()
      yield* steps.open(s)
      yield* steps.stagePart(s.step_id, "a", 1, 0)
      yield* steps.stagePart(s.step_id, "b", { x: 2 }, 0)
      yield* steps.stagePart(s.step_id, "a", 3, 0)
      expect((yield* stored(s.step_id)).parts).toEqual({ a: 3, b: { x: 2 } })
      yield* steps.acceptSubmission(s.step_id, { value: "v", verdict: "blocked", at }, 0)
      expect(yield* outcome(steps.stagePart(s.step_id, "c", 4, 0))).toEqual({
        tag: "AlreadySubmitted",
        message: `this step already has its result: parts cannot be staged after the submit of ${at}`
      })
      expect(yield* outcome(steps.acceptSubmission(s.step_id, { value: "w", verdict: "pass", at }, 0))).toEqual({
        tag: "AlreadySubmitted",
        message: `this step already has its result: a blocked result was submitted at ${at}`
      })
      expect(yield* stored(s.step_id)).toMatchObject({
        parts: { a: 3, b: { x: 2 } },
        submission: { value: "v", verdict: "blocked" }
      })
    }).pipe(Effect.provide(layer)))

  it.effect("a step that does not exist takes no input, and nothing is written for it", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const missing = StepId.make("ST-00000000000000ff")
      const gone = { tag: "StepGone", message: `step ${missing} takes no more input: it no longer exists` }
      expect(yield* outcome(steps.takingInput(missing, 0))).toEqual(gone)
      expect(yield* outcome(steps.acceptSubmission(missing, { value: 1, verdict: "pass", at }, 0))).toEqual(gone)
      expect(yield* outcome(steps.stagePart(missing, "p", 1, 0))).toEqual(gone)
      expect(yield* steps.seal(missing)).toEqual(Option.none())
      expect(yield* steps.finish(missing, { status: "passed", value: 1 }, at)).toEqual(Option.none())
      yield* steps.setStatus(missing, "waiting_for_operator")
      expect(yield* steps.get(missing)).toEqual(Option.none())
    }).pipe(Effect.provide(layer)))

  it.effect("status and prompt are written; a finished step is refused naming its status", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step()
      yield* steps.open(s)
      yield* steps.setStatus(s.step_id, "waiting_for_operator")
      const prompt = { task_id: s.step_id, run_id: RUN, attempt: 1, agent: "writer", system: null, prompt: "go", context: {} }
      yield* steps.setPrompt(s.step_id, prompt)
      expect(yield* stored(s.step_id)).toMatchObject({ status: "waiting_for_operator", prompt })
      yield* steps.finish(s.step_id, { status: "failed", error: "boom" }, at)
      expect(yield* outcome(steps.takingInput(s.step_id, 0))).toEqual({
        tag: "StepGone",
        message: `step ${s.step_id} takes no more input: it has finished (failed)`
      })
    }).pipe(Effect.provide(layer)))

  it.effect("a sealed step is refused saying its result was taken", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step()
      yield* steps.open(s)
      const sealed = yield* steps.seal(s.step_id)
      // seal returns the record as it was before sealing, and stores it sealed
      expect(Option.map(sealed, (r) => r.sealed)).toEqual(Option.some(undefined))
      expect((yield* stored(s.step_id)).sealed).toBe(true)
      expect(yield* outcome(steps.acceptSubmission(s.step_id, { value: 1, verdict: "pass", at }, 0))).toEqual({
        tag: "StepGone",
        message: `step ${s.step_id} takes no more input: its result has already been taken`
      })
    }).pipe(Effect.provide(layer)))

  it.effect("finish records value, error, stats and source, on operator and builtin steps alike", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const seated = step()
      // a builtin step has no seat
      const { seat: _seat, ...builtinRecord } = step()
      yield* steps.open(seated)
      yield* steps.open(builtinRecord)
      const end = { status: "blocked", value: { v: 1 }, error: "why", stats: { n: 2 }, source: "submit" } as const
      for (const id of [seated.step_id, builtinRecord.step_id]) {
        const done = Option.getOrThrow(yield* steps.finish(id, end, at))
        expect(done).toMatchObject({
          status: "blocked",
          value: { v: 1 },
          error: "why",
          stats: { n: 2 },
          value_source: "submit",
          finished_at: at,
          sealed: true
        })
        expect(yield* stored(id)).toEqual(done)
      }
      // a plain failure carries no value, stats or source
      const bare = step()
      yield* steps.open(bare)
      const failed = Option.getOrThrow(yield* steps.finish(bare.step_id, { status: "failed", error: "boom" }, at))
      expect("value" in failed || "stats" in failed || "value_source" in failed).toBe(false)
    }).pipe(Effect.provide(layer)))

  it.effect("verdicts: a pass is checked against the agent's verdicts, trimmed; without verdicts any pass is taken", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const free = step()
      yield* steps.open(free)
      expect(yield* outcome(steps.acceptSubmission(free.step_id, { value: { any: 1 }, verdict: "pass", at }, 0))).toBe("ok")
      const strict = step({ verdicts: ["approve", "reject"] })
      yield* steps.open(strict)
      expect(yield* outcome(steps.acceptSubmission(strict.step_id, { value: 7, verdict: "pass", at }, 0))).toEqual({
        tag: "VerdictRefused",
        message: `the result 7 is not an allowed verdict of agent writer: send one of "approve", "reject"`
      })
      expect(yield* outcome(steps.acceptSubmission(strict.step_id, { value: null, verdict: "pass", at }, 0)))
        .toMatchObject({ tag: "VerdictRefused" })
      expect(yield* outcome(steps.acceptSubmission(strict.step_id, { value: { verdict: 1 }, verdict: "pass", at }, 0)))
        .toMatchObject({ tag: "VerdictRefused" })
      expect(yield* outcome(steps.acceptSubmission(strict.step_id, { value: " reject\n", verdict: "pass", at }, 0)))
        .toBe("ok")
      const obj = step({ verdicts: ["approve"] })
      yield* steps.open(obj)
      expect(
        yield* outcome(steps.acceptSubmission(obj.step_id, { value: { verdict: " approve " }, verdict: "pass", at }, 0))
      ).toBe("ok")
    }).pipe(Effect.provide(layer)))

  it.effect("verdicts bind only a pass: a blocked or skip result is taken whatever its value", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      for (const verdict of ["blocked", "skip"] as const) {
        const strict = step({ verdicts: ["approve", "reject"] })
        yield* steps.open(strict)
        expect(yield* outcome(steps.acceptSubmission(strict.step_id, { value: "tests do not build", verdict, at }, 0)))
          .toBe("ok")
        expect((yield* stored(strict.step_id)).submission).toMatchObject({ verdict, value: "tests do not build" })
      }
    }).pipe(Effect.provide(layer)))

  it.effect("sealRun seals only the run's unfinished steps; other runs' steps still take input", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const mine = step()
      const other = step({ run_id: RunId.make("R-00000000000000c2") })
      yield* steps.open(mine)
      yield* steps.open(other)
      yield* steps.sealRun(RUN)
      expect((yield* stored(mine.step_id)).sealed).toBe(true)
      expect(yield* outcome(steps.takingInput(other.step_id, 0))).toBe("ok")
      expect(yield* steps.listByRun(RUN)).toEqual([yield* stored(mine.step_id)])
    }).pipe(Effect.provide(layer)))
})

/** Steps over StepRepo.memory whose next `put` matching an armed `StepWrites` predicate is held until released. */
const held = Steps.layer.pipe(
  Layer.provideMerge(heldSteps),
  Layer.provideMerge(Layer.effect(StepWrites, makeLatch<StepRecord>()))
)

describe("Steps: the per-step lock of a seated step (forced interleavings, no sleeps)", () => {
  it.effect("a worker's submit that races the engine's finish (a cancel, not sealed first) waits for it and is refused, never silently lost", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const latch = yield* StepWrites
      const s = step()
      yield* steps.open(s)
      // the engine's finish has read the step and is about to store it as cancelled
      const stop = yield* latch.arm((r) => r.step_id === s.step_id && r.status === "cancelled")
      const finishing = yield* Effect.fork(steps.finish(s.step_id, { status: "cancelled", error: "the run was cancelled" }, at))
      yield* within("finish reaching its write")(Deferred.await(stop.reached))
      // the worker's submit starts now: it must wait for finish, not read the record finish read
      const submitting = yield* Effect.fork(outcome(steps.acceptSubmission(s.step_id, { value: "done", verdict: "pass", at }, 0)))
      const parked = yield* parkedOrDone(submitting)
      yield* stop.release // before any check, so a failing check cannot leave a fiber held
      expect(parked).toBe("Suspended")
      yield* within("finish")(Fiber.join(finishing))
      const submitted = yield* within("submit")(Fiber.join(submitting))
      expect(submitted).toMatchObject({ tag: "StepGone" })
      expect(yield* stored(s.step_id)).toMatchObject({ status: "cancelled", sealed: true, finished_at: at })
      expect((yield* stored(s.step_id)).submission).toBeUndefined()
    }).pipe(Effect.provide(held)))

  it.effect("the engine's finish that starts while a worker's submit is being stored keeps the submission", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const latch = yield* StepWrites
      const s = step()
      yield* steps.open(s)
      // the worker's submit has read the step and is about to store its result
      const stop = yield* latch.arm((r) => r.step_id === s.step_id && r.submission !== undefined)
      const submitting = yield* Effect.fork(steps.acceptSubmission(s.step_id, { value: "done", verdict: "pass", at }, 0))
      yield* within("submit reaching its write")(Deferred.await(stop.reached))
      const finishing = yield* Effect.fork(steps.finish(s.step_id, { status: "cancelled", error: "the run was cancelled" }, at))
      const parked = yield* parkedOrDone(finishing)
      yield* stop.release // before any check, so a failing check cannot leave a fiber held
      expect(parked).toBe("Suspended")
      expect((yield* within("submit")(Fiber.join(submitting))).submission?.value).toBe("done")
      const ended = yield* within("finish")(Fiber.join(finishing))
      // finish read the record after the submit was stored: both writes are in it
      expect(Option.getOrThrow(ended)).toMatchObject({ status: "cancelled", sealed: true, submission: { value: "done" } })
      expect(yield* stored(s.step_id)).toEqual(Option.getOrThrow(ended))
    }).pipe(Effect.provide(held)))

  it.effect("a worker's submit that races the open of a resumed step lands on the resumed record, not under it", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const latch = yield* StepWrites
      const before = step({ status: "waiting_for_operator" })
      yield* steps.open(before)
      // after a restart the step is stored again as started (same id), while its worker
      // still holds a credential for it
      const resumed: StepRecord = { ...before, status: "running", started_at: at }
      const stop = yield* latch.arm((r) => r.step_id === before.step_id && r.started_at === at && r.submission === undefined)
      const opening = yield* Effect.fork(steps.open(resumed))
      yield* within("open reaching its write")(Deferred.await(stop.reached))
      const submitting = yield* Effect.fork(outcome(steps.acceptSubmission(before.step_id, { value: "done", verdict: "pass", at }, 0)))
      const parked = yield* parkedOrDone(submitting)
      yield* stop.release // before any check, so a failing check cannot leave a fiber held
      expect(parked).toBe("Suspended")
      yield* within("open")(Fiber.join(opening))
      expect(yield* within("submit")(Fiber.join(submitting))).toBe("ok")
      // the accepted result is kept, on top of the resumed record
      expect(yield* stored(before.step_id)).toEqual({ ...resumed, submission: { value: "done", verdict: "pass", at } })
    }).pipe(Effect.provide(held)))
})
