import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option, Ref, Stream } from "effect"
import type { AgentDef } from "../../src/protocol/blueprint.js"
import type { PendingReply, ServerFrame, SpawnFrame } from "../../src/protocol/frames.js"
import type { RunEvent } from "../../src/services/repos/EventRepo.js"
import { Runs } from "../../src/services/Runs.js"
import { Worker } from "../../src/services/Worker.js"
import { ack, blueprint, defaultHandler, eventsUntil, type Handler, seq, startOperator, step, testLayer } from "./harness.js"

type Reply = Omit<PendingReply, "req_id">
const reply = (r: Reply) => Effect.succeed(Option.some(r))
const hookOk = reply({ type: "hook_ack", ok: true } as Reply)

const operatorAgent = (name: string, extra: Partial<AgentDef> = {}): AgentDef =>
  ({ name, kind: "operator", operator: "lead", ...extra }) as AgentDef
const seats = { operators: [{ name: "lead" }] }

const spawnsOf = (frames: ReadonlyArray<ServerFrame>) => frames.filter((f): f is SpawnFrame => f.type === "spawn")

describe("operator steps", () => {
  it.scoped("a step waits for its seat (waiting_for_operator) until acquire, then runs", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats)
      const { run_id } = yield* runs.launch({ blueprint: bp, input: { request: "x" } })
      yield* eventsUntil(run_id, (e) => e.type === "step_status" && e.status === "waiting_for_operator")
      const before = yield* runs.get(run_id)
      expect(before.steps.map((s) => s.status)).toEqual(["waiting_for_operator"])
      expect(before.seats).toEqual({ lead: null })

      const op = yield* startOperator(defaultHandler(() => `{"steps": 2}`))
      const taken = yield* runs.acquire(run_id, op.sid)
      expect(taken).toEqual({ slot: "lead", generation: 1 })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      expect(run.result).toEqual({ request: "x", plan: { steps: 2 } })
      expect(run.seats).toEqual({ lead: { sid: op.sid, generation: 1 } })
      expect((yield* Effect.flip(runs.acquire(run_id, op.sid)))._tag).toBe("RunAlreadyFinished")
    }).pipe(Effect.provide(testLayer())))

  it.scoped("acquire checks the seat and the session", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats)
      const { run_id } = yield* runs.launch({ blueprint: bp })
      const op = yield* startOperator(defaultHandler(() => "x"))
      expect((yield* Effect.flip(runs.acquire(run_id, op.sid, "nope")))._tag).toBe("SeatNotFound")
      expect((yield* Effect.flip(runs.acquire(run_id, "S-" + "1".repeat(32))))._tag).toBe("UnknownSession")
      yield* runs.cancel(run_id)
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a take-over withdraws the pending spawn from the old holder and re-sends it to the new one", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const silent = yield* startOperator(() => Effect.succeedNone)
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats)
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: silent.sid })
      yield* eventsUntil(run_id, (e) => e.type === "request_sent" && e.kind === "spawn")
      const fresh = yield* startOperator(defaultHandler(() => "from the new holder"))
      const taken = yield* runs.acquire(run_id, fresh.sid, "lead")
      expect(taken).toEqual({ slot: "lead", generation: 2, previous: { sid: silent.sid, generation: 1 } })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      expect(run.result).toMatchObject({ plan: "from the new holder" })
      const old = yield* silent.frames
      const oldSpawn = spawnsOf(old)[0]
      expect(old.find((f) => f.type === "cancel")).toEqual({ type: "cancel", req_id: oldSpawn?.req_id, reason: "seat_taken_over" })
      expect(spawnsOf(yield* fresh.frames)).toHaveLength(1)
    }).pipe(Effect.provide(testLayer())))

  it.scoped("cancel while a step waits for its seat → cancelled", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats)
      const { run_id } = yield* runs.launch({ blueprint: bp })
      yield* eventsUntil(run_id, (e) => e.type === "step_status" && e.status === "waiting_for_operator")
      yield* runs.cancel(run_id)
      const run = yield* runs.get(run_id)
      expect(run.status).toBe("cancelled")
      expect(run.steps.map((s) => s.status)).toEqual(["cancelled"])
      expect((yield* Effect.flip(runs.cancel(run_id)))._tag).toBe("RunAlreadyFinished")
    }).pipe(Effect.provide(testLayer())))

  it.scoped("a spawn_ack with an error fails the step with that message", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? reply({ type: "spawn_ack", value: null, ok: true, error: "no sub-agent available" } as Reply)
          : Effect.succeedNone
      )
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats),
        operator_sid: op.sid
      })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("failed")
      expect(run.steps[0]).toMatchObject({ status: "failed", error: "no sub-agent available" })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("cancel during an operator step sends cancel frames, and a late submit is StepGone", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const silent = yield* startOperator(() => Effect.succeedNone)
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats)
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: silent.sid })
      yield* eventsUntil(run_id, (e) => e.type === "request_sent" && e.kind === "spawn")
      yield* runs.cancel(run_id)
      const run = yield* runs.get(run_id)
      expect(run.status).toBe("cancelled")
      expect(run.steps.map((s) => s.status)).toEqual(["cancelled"])
      const frames = yield* silent.frames
      const spawn = spawnsOf(frames)[0]
      expect(frames.find((f) => f.type === "cancel")).toEqual({ type: "cancel", req_id: spawn?.req_id, reason: "run_cancelled" })
      expect(yield* silent.session.pending).toEqual([])
      const late = yield* Effect.flip(worker.submit(spawn?.worker_handle ?? "", "too late"))
      expect(late._tag).toBe("StepGone")
    }).pipe(Effect.provide(testLayer())))
})

describe("middleware", () => {
  it.scoped("main_ai: hook_before ok:false fails the step with the reason, and nothing is spawned", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator((f) =>
        f.type === "hook_before" ? reply({ type: "hook_ack", ok: false, reason: "not today" } as Reply) : Effect.succeedNone
      )
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), { ...seats, middleware: ["main_ai"] })
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("failed")
      expect(run.steps[0]).toMatchObject({ status: "failed", error: "not today" })
      expect(run.error?.message).toContain("not today")
      expect(run.error?.failed_step).toBe("planner")
      expect((yield* op.frames).map((f) => f.type)).toEqual(["hook_before"])
    }).pipe(Effect.provide(testLayer())))

  it.scoped("main_ai: hook_before, spawn, then hook_after with the step's value", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator(defaultHandler(() => `{"done": true}`))
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), { ...seats, middleware: ["main_ai"] })
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      const frames = yield* op.frames
      expect(frames.map((f) => f.type)).toEqual(["hook_before", "spawn", "hook_after"])
      const stepId = run.steps[0]?.step_id
      expect(frames[0]).toMatchObject({ task_id: stepId, agent: "planner", attempt: 1 })
      expect(frames[2]).toMatchObject({ task_id: stepId, agent: "planner", attempt: 1, result: { done: true } })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("senior_escalation: a blocked step is rescued by the answer → passed {original, answer}", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator((f) => {
        if (f.type === "spawn") return ack("could not finish", false)
        if (f.type === "ask") return reply({ type: "answer", value: { decision: "ship it" } } as Reply)
        return Effect.succeedNone
      })
      const bp = blueprint([operatorAgent("coder")], step("coder", "$", "$.patch"), {
        ...seats,
        middleware: ["senior_escalation"]
      })
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      const value = { original: "could not finish", answer: { decision: "ship it" } }
      expect(run.steps[0]).toMatchObject({ status: "passed", value })
      expect(run.result).toMatchObject({ patch: value })
      const ask = (yield* op.frames).find((f) => f.type === "ask")
      expect(ask).toMatchObject({
        task_id: run.steps[0]?.step_id,
        question: { reason: "worker reported ok=false", step: "coder", value: "could not finish" }
      })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("senior_escalation: when the ask fails the step stays blocked", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator((f) => {
        if (f.type === "spawn") return ack("nope", false)
        // the wrong reply type fails the ask
        if (f.type === "ask") return hookOk
        return Effect.succeedNone
      })
      const bp = blueprint([operatorAgent("coder")], step("coder", "$", "$.patch"), {
        ...seats,
        middleware: ["senior_escalation"]
      })
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("failed")
      expect(run.steps[0]).toMatchObject({ status: "blocked", value: "nope" })
      expect(run.error).toMatchObject({ failed_step: "coder", step_value: "nope" })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("project_name_alias goes into the directive and the step context; the directive has the real base URL", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const prompts = yield* Ref.make<ReadonlyArray<unknown>>([])
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const p = yield* worker.prompt(f.worker_handle ?? "")
            yield* Ref.update(prompts, (ps) => [...ps, p])
            yield* worker.submit(f.worker_handle ?? "", "ok")
            return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const bp = blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), {
        ...seats,
        metadata: { project_name_alias: "feature-x" }
      })
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      yield* runs.awaitEnd(run_id)
      const spawn = spawnsOf(yield* op.frames)[0]
      expect(spawn?.directive).toContain("project_name_alias: feature-x")
      expect(spawn?.directive).toContain("[Session alias reminder]")
      expect(spawn?.directive).toContain(`http://engine.test:7777/v1/worker/prompt?task_id=${spawn?.task_id}`)
      expect(spawn?.directive).toContain(`worker_handle: ${spawn?.worker_handle}`)
      expect(spawn?.run_id).toBe(run_id)
      expect((yield* Ref.get(prompts))[0]).toMatchObject({
        context: { run_id, agent: "planner", attempt: 1, project_name_alias: "feature-x" }
      })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("without an alias the directive has no alias block", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator(defaultHandler(() => "ok"))
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats),
        operator_sid: op.sid
      })
      yield* runs.awaitEnd(run_id)
      const spawn = spawnsOf(yield* op.frames)[0]
      expect(spawn?.directive).not.toContain("project_name_alias")
      expect(spawn?.directive).not.toContain("[Session alias reminder]")
    }).pipe(Effect.provide(testLayer())))
})

describe("worker verbs", () => {
  it.scoped("prompt by handle and by token; a wrong task_id is WrongStep; the system prompt is rendered", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const checks = yield* Deferred.make<ReadonlyArray<unknown>>()
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const byHandle = yield* worker.prompt(f.worker_handle ?? "", f.task_id)
            const byToken = yield* worker.prompt(f.capability_token)
            const wrong = yield* Effect.flip(worker.prompt(f.worker_handle ?? "", "ST-0000000000000000"))
            const junk = yield* Effect.flip(worker.prompt("garbage"))
            yield* Deferred.succeed(checks, [byHandle, byToken, wrong._tag, junk._tag])
            yield* worker.submit(f.capability_token, "done")
            return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const agent = operatorAgent("planner", { system_prompt: "You plan. Request: {{ request }}" })
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([agent], step("planner", "$", "$.plan"), seats),
        input: { request: "add a flag" },
        operator_sid: op.sid
      })
      const [byHandle, byToken, wrong, junk] = yield* Deferred.await(checks)
      const run = yield* runs.awaitEnd(run_id)
      const stepId = run.steps[0]?.step_id
      expect(byHandle).toEqual({
        task_id: stepId,
        run_id,
        attempt: 1,
        agent: "planner",
        system: "You plan. Request: add a flag",
        prompt: { request: "add a flag" },
        context: { run_id, agent: "planner", attempt: 1 }
      })
      expect(byToken).toEqual(byHandle)
      expect(wrong).toBe("WrongStep")
      expect(junk).toBe("BadCredential")
      expect(run.result).toMatchObject({ plan: "done" })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("the first submit closes the submission (a second is AlreadySubmitted); after the step finished StepGone", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const first = yield* worker.submit(f.worker_handle ?? "", `{"v": 1}`)
            expect(first).toEqual({ task_id: f.task_id, bytes: 8 })
            const second = yield* Effect.flip(worker.submit(f.worker_handle ?? "", `{"v": 2}`))
            expect(second._tag).toBe("AlreadySubmitted")
            return Option.some({ type: "spawn_ack", value: "ack value loses", ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats),
        operator_sid: op.sid
      })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.result).toMatchObject({ plan: { v: 1 } })
      const handle = spawnsOf(yield* op.frames)[0]?.worker_handle ?? ""
      const late = yield* Effect.flip(worker.submit(handle, `{"v": 3}`))
      expect(late._tag).toBe("StepGone")
      expect((yield* Effect.flip(worker.result(handle, { value: 3, ok: true })))._tag).toBe("StepGone")
      expect((yield* Effect.flip(worker.artifact(handle, "x", "y")))._tag).toBe("StepGone")
      expect((yield* runs.get(run_id)).steps[0]?.value).toEqual({ v: 1 })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("without a submit the step's value is the spawn_ack value", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const op = yield* startOperator((f) => f.type === "spawn" ? ack({ from: "ack" }) : Effect.succeedNone)
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("planner")], step("planner", "$", "$.plan"), seats),
        operator_sid: op.sid
      })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.result).toMatchObject({ plan: { from: "ack" } })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("verdicts: a value outside them is refused naming the allowed values; an allowed one passes", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const refused = yield* Deferred.make<unknown>()
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const err = yield* Effect.flip(worker.submit(f.worker_handle ?? "", "MAYBE"))
            yield* Deferred.succeed(refused, err)
            yield* worker.submit(f.worker_handle ?? "", "APPROVE\n")
            return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const agent = operatorAgent("reviewer", { verdicts: ["APPROVE", "REVISE"] })
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([agent], step("reviewer", "$", "$.review"), seats),
        operator_sid: op.sid
      })
      const err = (yield* Deferred.await(refused)) as { _tag: string; allowed: ReadonlyArray<string>; message: string }
      expect(err._tag).toBe("VerdictRefused")
      expect(err.allowed).toEqual(["APPROVE", "REVISE"])
      expect(err.message).toContain("APPROVE")
      const run = yield* runs.awaitEnd(run_id)
      expect(run.result).toMatchObject({ review: "APPROVE" })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("verdict blocked fails the flow; verdict skip lets it go on with the step skipped", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const verdict = f.agent === "a" ? "skip" : "blocked"
            yield* worker.submit(f.worker_handle ?? "", `{"by": "${f.agent}"}`, verdict)
            return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const bp = blueprint(
        [operatorAgent("a"), operatorAgent("b")],
        seq(step("a", "$", "$.a"), step("b", "$", "$.b")),
        seats
      )
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.steps.map((s) => [s.ref, s.status])).toEqual([["a", "skipped"], ["b", "blocked"]])
      expect(run.status).toBe("failed")
      expect(run.error).toMatchObject({ failed_step: "b", step_value: { by: "b" } })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("artifact parts fold into {out, parts}", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const h = f.worker_handle ?? ""
            expect(yield* worker.artifact(h, "diff", "+added line\n")).toEqual({ task_id: f.task_id, name: "diff", bytes: 12 })
            yield* worker.artifact(h, "report", `{"lines": 1}`)
            yield* worker.result(h, { value: { summary: "done" }, ok: true })
            return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("coder")], step("coder", "$", "$.patch"), seats),
        operator_sid: op.sid
      })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.result).toMatchObject({
        patch: { out: { summary: "done" }, parts: { diff: "+added line", report: { lines: 1 } } }
      })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("ask: the worker's question reaches the seat's session nested under the spawn", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const op = yield* startOperator((f) => {
        if (f.type === "ask") return reply({ type: "answer", value: `yes to ${JSON.stringify(f.question)}` } as Reply)
        if (f.type !== "spawn") return Effect.succeedNone
        return Effect.gen(function*() {
          const { answer } = yield* worker.ask(f.worker_handle ?? "", "may I?")
          yield* worker.submit(f.worker_handle ?? "", String(answer))
          return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
        })
      })
      const { run_id } = yield* runs.launch({
        blueprint: blueprint([operatorAgent("coder")], step("coder", "$", "$.patch"), seats),
        operator_sid: op.sid
      })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.result).toMatchObject({ patch: `yes to "may I?"` })
      const frames = yield* op.frames
      const spawn = spawnsOf(frames)[0]
      expect(frames.find((f) => f.type === "ask")).toMatchObject({
        task_id: spawn?.task_id,
        parent_req_id: spawn?.req_id,
        question: "may I?"
      })
    }).pipe(Effect.provide(testLayer())))

  it.scoped("data path: emit, then read by out_id and by name; another run's worker is refused", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const worker = yield* Worker
      const emitted = yield* Ref.make<ReadonlyArray<{ handle: string; out_id: string }>>([])
      const op = yield* startOperator((f) =>
        f.type === "spawn"
          ? Effect.gen(function*() {
            const h = f.worker_handle ?? ""
            const body = new TextEncoder().encode(`big payload of ${f.run_id}`)
            const out = yield* worker.emit(h, "blob", body, "text/plain")
            expect(out.bytes).toBe(body.byteLength)
            expect(out.sha256).toMatch(/^[0-9a-f]{64}$/)
            yield* Ref.update(emitted, (xs) => [...xs, { handle: h, out_id: out.out_id }])
            yield* worker.submit(h, out.out_id)
            return Option.some({ type: "spawn_ack", value: null, ok: true } as Reply)
          })
          : Effect.succeedNone
      )
      const bp = blueprint([operatorAgent("coder")], step("coder", "$", "$.out"), seats)
      const one = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      yield* runs.awaitEnd(one.run_id)
      const two = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      yield* runs.awaitEnd(two.run_id)
      const [a, b] = yield* Ref.get(emitted)
      if (a === undefined || b === undefined) return expect.unreachable()
      const byId = yield* worker.getData({ _tag: "worker", credential: a.handle }, a.out_id)
      expect(new TextDecoder().decode(byId.body)).toBe(`big payload of ${one.run_id}`)
      expect(byId.content_type).toBe("text/plain")
      const byName = yield* worker.getData({ _tag: "worker", credential: b.handle }, "blob")
      expect(new TextDecoder().decode(byName.body)).toBe(`big payload of ${two.run_id}`)
      expect((yield* worker.getData({ _tag: "worker", credential: a.handle }, "blob")).out_id).toBe(a.out_id)
      expect((yield* Effect.flip(worker.getData({ _tag: "worker", credential: a.handle }, b.out_id)))._tag).toBe("WrongStep")
      expect((yield* worker.getData({ _tag: "operator" }, b.out_id)).out_id).toBe(b.out_id)
      expect((yield* Effect.flip(worker.getData({ _tag: "operator" }, "nothing")))._tag).toBe("OutputNotFound")
    }).pipe(Effect.provide(testLayer())))
})

describe("acceptance", () => {
  it.scoped("a 3-step blueprint answered by a scripted operator and its sub-agents runs to done", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const results: Record<string, (prompt: unknown) => string> = {
        planner: (p) => `{"plan": ["parse ${(p as { request: string }).request}", "print"]}`,
        coder: (p) => "```json\n" + JSON.stringify({ patch: "diff for " + JSON.stringify(p) }) + "\n```\nnotes after the fence",
        reviewer: () => "APPROVE\n"
      }
      const handler: Handler = defaultHandler((prompt, frame) => results[frame.agent]?.(prompt) ?? "")
      const op = yield* startOperator(handler)
      const bp = {
        id: "three",
        metadata: { project_name_alias: "feature-x" },
        default_input: { request: "add a --dry-run flag" },
        middleware: ["main_ai", "senior_escalation"],
        operators: [{ name: "lead" }],
        agents: [
          { name: "planner", kind: "operator", operator: "lead", system_prompt: "You plan. Request: {{ request }}" },
          { name: "coder", kind: "operator", operator: "lead" },
          { name: "reviewer", kind: "operator", operator: "lead", verdicts: ["APPROVE", "REVISE"] }
        ],
        flow: seq(
          step("planner", "$", "$.plan"),
          step("coder", "$.plan", "$.patch"),
          {
            kind: "step",
            ref: "reviewer",
            in: { op: "obj", fields: { plan: { op: "path", at: "$.plan" }, patch: { op: "path", at: "$.patch" } } },
            out: "$.review"
          }
        )
      }
      const { run_id } = yield* runs.launch({ blueprint: bp, operator_sid: op.sid })
      const events: Array<RunEvent> = []
      const stream = yield* runs.events(run_id)
      yield* Stream.runForEach(stream, (e) => Effect.sync(() => events.push(e)))
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      const plan = { plan: ["parse add a --dry-run flag", "print"] }
      expect(run.result).toEqual({
        request: "add a --dry-run flag",
        plan,
        patch: { patch: "diff for " + JSON.stringify(plan) },
        review: "APPROVE"
      })
      expect(run.steps.map((s) => [s.ref, s.status])).toEqual([["planner", "passed"], ["coder", "passed"], ["reviewer", "passed"]])
      expect((yield* op.frames).map((f) => f.type)).toEqual([
        "hook_before", "spawn", "hook_after",
        "hook_before", "spawn", "hook_after",
        "hook_before", "spawn", "hook_after"
      ])
      expect(events.at(-1)).toMatchObject({ type: "run_finished", status: "done" })
      expect(events.filter((e) => e.type === "request_answered" && e.kind === "spawn")).toHaveLength(3)
      expect(yield* op.session.pending).toEqual([])
    }).pipe(Effect.provide(testLayer())))
})
