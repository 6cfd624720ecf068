/** Steps: the one owner of step records; worker input is refused once a step is sealed or finished. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { RunId, StepId } from "../../src/protocol/ids.js"
import type { StepRecord } from "../../src/protocol/records.js"
import { StepRepo } from "../../src/services/repos/StepRepo.js"
import { Steps } from "../../src/services/Steps.js"

const layer = Steps.layer.pipe(Layer.provideMerge(StepRepo.memory))
const RUN = RunId.make("R-00000000000000a1")
const step = (id: string, extra: Partial<StepRecord> = {}): StepRecord => ({
  step_id: StepId.make(id),
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

describe("Steps", () => {
  it.effect("a submission lands until the step is sealed, then is refused and changes nothing", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step("ST-00000000000000b1")
      yield* steps.open(s)
      yield* steps.acceptSubmission(s.step_id, { value: "one", verdict: "pass", at }, 0)
      const sealed = yield* steps.seal(s.step_id)
      expect(Option.map(sealed, (r) => r.submission?.value)).toEqual(Option.some("one"))
      const late = yield* Effect.either(steps.acceptSubmission(s.step_id, { value: "two", verdict: "pass", at }, 0))
      expect(Either.isLeft(late) && late.left._tag).toBe("StepGone")
      const part = yield* Effect.either(steps.stagePart(s.step_id, "p", 1, 0))
      expect(Either.isLeft(part) && part.left._tag).toBe("StepGone")
      const stored = Option.getOrThrow(yield* steps.get(s.step_id))
      expect(stored.submission?.value).toBe("one")
      expect(stored.parts).toBeUndefined()
    }).pipe(Effect.provide(layer)))

  it.effect("a pass outside the agent's verdicts is refused; finish records the end and seals", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const s = step("ST-00000000000000b2", { verdicts: ["approve"] })
      yield* steps.open(s)
      const bad = yield* Effect.either(steps.acceptSubmission(s.step_id, { value: "meh", verdict: "pass", at }, 0))
      expect(Either.isLeft(bad) && bad.left._tag).toBe("VerdictRefused")
      yield* steps.acceptSubmission(s.step_id, { value: "approve", verdict: "pass", at }, 0)
      const done = Option.getOrThrow(yield* steps.finish(s.step_id, { status: "passed", value: "approve" }, at))
      expect(done).toMatchObject({ status: "passed", value: "approve", finished_at: at, sealed: true })
      const late = yield* Effect.either(steps.takingInput(s.step_id, 0))
      expect(Either.isLeft(late) && late.left.message).toContain("it has finished (passed)")
    }).pipe(Effect.provide(layer)))

  it.effect("sealRun closes every unfinished step of the run and leaves finished ones as they are", () =>
    Effect.gen(function*() {
      const steps = yield* Steps
      const open = step("ST-00000000000000b3")
      const done = step("ST-00000000000000b4")
      yield* steps.open(open)
      yield* steps.open(done)
      yield* steps.finish(done.step_id, { status: "passed", value: 1 }, at)
      yield* steps.sealRun(RUN)
      expect(Option.getOrThrow(yield* steps.get(open.step_id))).toMatchObject({ status: "running", sealed: true })
      expect(Option.getOrThrow(yield* steps.get(done.step_id))).toMatchObject({ status: "passed", value: 1 })
      const refused = yield* Effect.either(steps.takingInput(open.step_id, 0))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("StepGone")
    }).pipe(Effect.provide(layer)))
})
