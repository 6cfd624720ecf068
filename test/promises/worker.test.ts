/**
 * The worker verbs, black-box through `Worker` and the engine: what each verb stores and
 * the exact refusal a sub-agent gets for each kind of bad input (http-api.md, worker routes).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber, Option } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import type { PendingReply, SpawnFrame } from "../../src/protocol/frames.js"
import { RunId } from "../../src/protocol/ids.js"
import { EventRepo } from "../../src/services/repos/EventRepo.js"
import { Runs } from "../../src/services/Runs.js"
import { Worker } from "../../src/services/Worker.js"
import { blueprint, type Handler, startOperator, step, testLayer } from "../engine/harness.js"
import { parkedOrDone, within } from "./latch.js"

type Reply = Omit<PendingReply, "req_id">
const seats = { operators: [{ name: "lead" }] }

/** `_tag` and `message` of a failure, or what was returned. */
const outcome = <A, E extends { _tag: string; message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(effect), (e) =>
    Either.isLeft(e) ? { tag: e.left._tag, message: e.left.message } : { ok: e.right as unknown })

/**
 * Runs one operator step whose spawn is held open while `body` acts as its worker; the
 * step then ends with the spawn_ack. Returns what `body` returned and the finished run.
 */
const withOpenStep = <A>(
  agent: Partial<AgentDef>,
  body: (spawn: SpawnFrame, runId: string) => Effect.Effect<A, unknown, Worker | Runs>,
  extra: Record<string, unknown> = {},
  other: (frame: Parameters<Handler>[0]) => ReturnType<Handler> | undefined = () => undefined
) =>
  Effect.gen(function*() {
    const runs = yield* Runs
    const spawned = yield* Deferred.make<SpawnFrame>()
    const finish = yield* Deferred.make<void>()
    const handler: Handler = (frame) =>
      frame.type !== "spawn" ? other(frame) ?? Effect.succeedNone : Deferred.succeed(spawned, frame).pipe(
        Effect.zipRight(Deferred.await(finish)),
        Effect.as(Option.some({ type: "spawn_ack", value: "from the ack", ok: true } as Reply))
      )
    const op = yield* startOperator(handler)
    const agents = [{ name: "worker", kind: "operator", operator: "lead", ...agent } as AgentDef]
    const { run_id } = yield* runs.launch({
      blueprint: blueprint(agents, step("worker", "$", "$.out"), { ...seats, ...extra }),
      input: { topic: "tests" },
      operator_sid: op.sid
    })
    const spawn = yield* Deferred.await(spawned).pipe(within("the spawn"))
    const result = yield* body(spawn, run_id)
    yield* Deferred.succeed(finish, undefined)
    const run = yield* runs.awaitEnd(run_id).pipe(within("the run's end"))
    return { result, run, spawn }
  })

describe("worker verbs", () => {
  it.scopedLive("prompt gives the step's payload; a task_id of another step is WrongStep", () =>
    Effect.gen(function*() {
      const { result, spawn } = yield* withOpenStep(
        { system_prompt: "You write about {{ topic }}." },
        (spawn, runId) =>
          Effect.gen(function*() {
            const worker = yield* Worker
            const handle = spawn.worker_handle ?? ""
            return {
              runId,
              payload: yield* worker.prompt(handle, spawn.task_id),
              byToken: yield* worker.prompt(spawn.capability_token),
              wrong: yield* outcome(worker.prompt(handle, "ST-ffffffffffffffff"))
            }
          }),
        { metadata: { project_name_alias: "tpl" } }
      )
      expect(result.payload).toEqual({
        task_id: spawn.task_id,
        run_id: result.runId,
        attempt: 1,
        agent: "worker",
        system: "You write about tests.",
        prompt: { topic: "tests" },
        context: { run_id: result.runId, agent: "worker", attempt: 1, project_name_alias: "tpl" }
      })
      expect(result.byToken).toEqual(result.payload)
      expect(result.wrong).toEqual({ tag: "WrongStep", message: "this credential belongs to another step than ST-ffffffffffffffff" })
    }).pipe(Effect.provide(testLayer())))

  it.scopedLive("a pass submit must be one of the agent's verdicts (trimmed; string or {verdict}); blocked and skip are not checked", () =>
    Effect.gen(function*() {
      const { result, run, spawn } = yield* withOpenStep({ verdicts: ["approve", "reject"] }, (spawn) =>
        Effect.gen(function*() {
          const worker = yield* Worker
          const h = spawn.worker_handle ?? ""
          return {
            maybe: yield* outcome(worker.submit(h, "maybe")),
            noVerdict: yield* outcome(worker.submit(h, "{\"v\": 1}")),
            objectOk: yield* outcome(worker.submit(h, "{\"verdict\": \" reject \", \"why\": \"x\"}")),
            resultNotOk: yield* outcome(worker.result(h, { value: "anything", ok: false })),
            skip: yield* outcome(worker.submit(h, "whatever", "skip")),
            last: yield* outcome(worker.submit(h, " approve\n"))
          }
        }))
      const refused = (value: string) => ({
        tag: "VerdictRefused",
        message: `the result ${value} is not an allowed verdict of agent worker: send one of "approve", "reject"`
      })
      expect(result.maybe).toEqual(refused("\"maybe\""))
      expect(result.noVerdict).toEqual(refused("{\"v\":1}"))
      expect(result.objectOk).toEqual({ ok: { task_id: spawn.task_id, bytes: Buffer.byteLength("{\"verdict\": \" reject \", \"why\": \"x\"}") } })
      // a refused verdict stores nothing; the first accepted submit closes the submission
      expect(result.resultNotOk).toMatchObject({ tag: "AlreadySubmitted" })
      expect(result.skip).toMatchObject({ tag: "AlreadySubmitted" })
      expect(result.last).toMatchObject({ tag: "AlreadySubmitted" })
      expect(run.steps[0]).toMatchObject({ status: "passed", value: { verdict: " reject ", why: "x" } })
    }).pipe(Effect.provide(testLayer())))

  it.scopedLive("artifact and emit need a non-empty name; staged parts fold into the step value", () =>
    Effect.gen(function*() {
      const { result, run } = yield* withOpenStep({}, (spawn) =>
        Effect.gen(function*() {
          const worker = yield* Worker
          const h = spawn.worker_handle ?? ""
          const bytes = new TextEncoder().encode("hello")
          return {
            emptyPart: yield* outcome(worker.artifact(h, "  ", "x")),
            emptyOut: yield* outcome(worker.emit(h, "", bytes)),
            blankOut: yield* outcome(worker.emit(h, " \t", bytes)),
            part: yield* outcome(worker.artifact(h, "notes", "{\"n\": 1}")),
            emitted: yield* worker.emit(h, "report", bytes),
            typed: yield* worker.emit(h, "page", bytes, "text/html"),
            submit: yield* outcome(worker.submit(h, "main"))
          }
        }))
      expect(result.emptyPart).toEqual({ tag: "BadWorkerInput", message: "name: give the part a non-empty name" })
      expect(result.emptyOut).toEqual({ tag: "BadWorkerInput", message: "name: give the output a non-empty name" })
      expect(result.blankOut).toEqual(result.emptyOut)
      expect(result.part).toEqual({ ok: { task_id: run.steps[0]?.step_id, name: "notes", bytes: 8 } })
      expect(result.emitted).toEqual({
        out_id: expect.stringMatching(/^out-[0-9a-f]{16}$/),
        name: "report",
        bytes: 5,
        sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
      })
      expect(run.steps[0]?.value).toEqual({ out: "main", parts: { notes: { n: 1 } } })

      const worker = yield* Worker
      const operator = { _tag: "operator" } as const
      const byName = yield* worker.getData(operator, "report")
      expect(byName).toMatchObject({ out_id: result.emitted.out_id, name: "report", content_type: "application/octet-stream" })
      expect(new TextDecoder().decode(byName.body)).toBe("hello")
      expect(yield* worker.getData(operator, result.typed.out_id)).toMatchObject({ name: "page", content_type: "text/html" })
      expect(yield* outcome(worker.getData(operator, "out-0000000000000000"))).toEqual({
        tag: "OutputNotFound",
        message: "no output out-0000000000000000"
      })
    }).pipe(Effect.provide(testLayer())))

  it.scopedLive("a worker reads its own run's outputs only", () =>
    Effect.gen(function*() {
      const first = yield* withOpenStep({}, (spawn) =>
        Effect.flatMap(Worker, (w) => w.emit(spawn.worker_handle ?? "", "secret", new TextEncoder().encode("s"))))
      const second = yield* withOpenStep({}, (spawn) =>
        Effect.gen(function*() {
          const worker = yield* Worker
          const credential = spawn.worker_handle ?? ""
          return {
            byId: yield* outcome(worker.getData({ _tag: "worker", credential }, first.result.out_id)),
            byName: yield* outcome(worker.getData({ _tag: "worker", credential }, "secret"))
          }
        }))
      expect(second.result.byId).toEqual({
        tag: "WrongStep",
        message: `output ${first.result.out_id} belongs to another run than this credential's`
      })
      expect(second.result.byName).toEqual({ tag: "OutputNotFound", message: "no output secret" })
    }).pipe(Effect.provide(testLayer())))

  it.scopedLive("a worker's ask goes to the seat's session nested under the spawn; cancelling the run fails it with a message", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const asked = yield* Deferred.make<void>()
      const spawned = yield* Deferred.make<SpawnFrame>()
      const handler: Handler = (frame) => {
        switch (frame.type) {
          case "spawn":
            return Effect.as(Deferred.succeed(spawned, frame), Option.none())
          case "ask":
            return frame.question === "answer me"
              ? Effect.succeed(Option.some({ type: "answer", value: { parent: frame.parent_req_id } } as Reply))
              : Effect.as(Deferred.succeed(asked, undefined), Option.none())
          default:
            return Effect.succeedNone
        }
      }
      const op = yield* startOperator(handler)
      const agents = [{ name: "worker", kind: "operator", operator: "lead" } as AgentDef]
      const { run_id } = yield* runs.launch({ blueprint: blueprint(agents, step("worker", "$", "$.out"), seats), operator_sid: op.sid })
      const spawn = yield* Deferred.await(spawned).pipe(within("the spawn"))
      const worker = yield* Worker
      const h = spawn.worker_handle ?? ""
      expect(yield* worker.ask(h, "answer me")).toEqual({ answer: { parent: spawn.req_id } })

      const pending = yield* Effect.fork(outcome(worker.ask(h, "never answered")))
      yield* Deferred.await(asked).pipe(within("the second ask"))
      yield* parkedOrDone(pending)
      yield* runs.cancel(run_id)
      const failed = yield* Fiber.join(pending)
      expect(failed).toMatchObject({ tag: "AskFailed" })
      expect("message" in failed ? failed.message : "").toMatch(/withdrawn \(run_cancelled\)/)
      // both asks are in the run's event log: sent, then answered (ok, or error with why)
      const log = yield* (yield* EventRepo).list(RunId.make(run_id))
      const asks = log.filter((e) => (e.type === "request_sent" || e.type === "request_answered") && e.req_id !== spawn.req_id)
      expect(asks).toMatchObject([
        { type: "request_sent", kind: "ask", step_id: spawn.task_id },
        { type: "request_answered", kind: "ask", status: "ok" },
        { type: "request_sent", kind: "ask" },
        { type: "request_answered", kind: "ask", status: "error", message: expect.stringMatching(/withdrawn \(run_cancelled\)/) }
      ])
    }).pipe(Effect.provide(testLayer())))
  it.scopedLive("an ask whose worker goes away is answered in the run's log (withdrawn), not left sent", () =>
    Effect.gen(function*() {
      const asked = yield* Deferred.make<void>()
      const { result: runId, spawn } = yield* withOpenStep({}, (spawn, runId) =>
        Effect.gen(function*() {
          const pending = yield* Effect.fork(Effect.flatMap(Worker, (w) => w.ask(spawn.worker_handle ?? "", "never answered")))
          yield* Deferred.await(asked).pipe(within("the ask"))
          // what the HTTP layer does when the sub-agent's request goes away
          yield* Fiber.interrupt(pending)
          return runId
        }), {}, (frame) => frame.type === "ask" ? Effect.as(Deferred.succeed(asked, undefined), Option.none()) : undefined)
      const log = yield* (yield* EventRepo).list(RunId.make(runId))
      const asks = log.filter((e) => (e.type === "request_sent" || e.type === "request_answered") && e.req_id !== spawn.req_id)
      expect(asks).toMatchObject([
        { type: "request_sent", kind: "ask", step_id: spawn.task_id },
        { type: "request_answered", kind: "ask", status: "error", message: expect.stringMatching(/^the ask was withdrawn: /) }
      ])
      expect(asks[1]).toMatchObject({ req_id: asks[0]?.req_id })
    }).pipe(Effect.provide(testLayer())))
})
