/**
 * Scenario 1: one full operator step with `main_ai`, as outside clients see it — a scripted
 * operator on a real socket, a sub-agent over real HTTP, the run read back over HTTP and SSE.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, jsonBody, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, readEvents, ScriptedOperator, sseType } from "./operator-client.js"
import { fetchPrompt, subAgentPromptOf, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const uuidV4 = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
const reqIdOf = (sid: string, kind: string) => new RegExp(`^${sid}-${kind}-${uuidV4}$`)
const SPEC_EVENTS = ["run_started", "step_started", "request_sent", "request_answered", "step_finished", "run_finished"]

/** No field of a server frame is `null` (protocol.md §2: optional fields are omitted). */
const noNullFields = (frame: Record<string, unknown>) => Object.entries(frame).filter(([, v]) => v === null).map(([k]) => k)

describe("scenario 1: a full operator step seen from outside", () => {
  it("hook_before → spawn → prompt fetch → submit → spawn_ack → hook_after; run done; SSE in order", async () => {
    const op = await ScriptedOperator.login(server, { desc: "scenario 1" })

    // the blueprint, stored
    const put = await request(
      server,
      "PUT",
      "/v1/blueprints/e2e-one-step",
      jsonBody(oneStepBlueprint({ id: "e2e-one-step", mainAi: true, systemPrompt: "You do: {{ request }}" }))
    )
    expect(put.status, put.text).toBe(200)
    expect(put.json).toEqual({ id: "e2e-one-step", version: 1 })

    const launched = await launch(server, {
      blueprint: "e2e-one-step",
      input: { request: "say hi" },
      operator_sid: op.sid
    })
    expect(launched.status).toBe("running")
    expect(launched.task_id).toMatch(/^T-[0-9a-f]{16}$/)
    expect(launched.run_id).toMatch(/^R-[0-9a-f]{16}$/)

    // follow the event stream live from the start
    const live = readEvents(server, launched.run_id, { timeoutMs: 8000 })

    // hook_before
    const before = await op.waitType("hook_before")
    expect(before.req_id).toMatch(reqIdOf(op.sid, "hb"))
    expect(before.task_id).toMatch(/^ST-[0-9a-f]{16}$/)
    expect(before).toMatchObject({ agent: "worker", attempt: 1 })
    expect(before.redelivery).toBeUndefined()
    expect(before.parent_req_id).toBeUndefined()
    expect(noNullFields(before)).toEqual([])
    const stepId: string = before.task_id
    op.hookAck(before.req_id, true)

    // spawn
    const spawn = await op.waitType("spawn")
    expect(spawn.req_id).toMatch(reqIdOf(op.sid, "spawn"))
    expect(spawn).toMatchObject({ task_id: stepId, agent: "worker", attempt: 1, run_id: launched.run_id })
    expect(spawn.worker_handle).toMatch(/^wh-[a-z0-9]{12}$/)
    expect(typeof spawn.capability_token).toBe("string")
    expect(spawn.capability_token).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    expect(spawn.redelivery).toBeUndefined()
    expect(noNullFields(spawn)).toEqual([])
    const handle: string = spawn.worker_handle

    // the directive (protocol.md §6) carries the real base URL of this server
    const directive: string = spawn.directive
    expect(directive.split("\n")[0]).toBe("[agent_primitive dispatch=@worker]")
    expect(directive).toContain(`http://127.0.0.1:${server.port}/v1/worker/prompt?task_id=${stepId}`)
    expect(directive).toContain(`http://127.0.0.1:${server.port}/v1/worker/submit`)
    expect(directive).toContain(`Bearer ${handle}`)
    expect(directive).toMatch(new RegExp(`^task_id: ${stepId}$`, "m"))
    expect(directive).toMatch(/^agent_id: worker$/m)
    expect(directive).not.toContain("[Session alias reminder]")
    expect(directive).not.toContain("project_name_alias")
    expect(directive).not.toContain("127.0.0.1:7777")
    expect(subAgentPromptOf(directive)).toEqual({
      agent_id: "worker",
      worker_handle: handle,
      base_url: server.url,
      task_id: stepId
    })

    // while the spawn is pending the session lists it
    const info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(info.status).toBe(200)
    expect(info.json.pending).toEqual([
      expect.objectContaining({ req_id: spawn.req_id, type: "spawn", task_id: stepId, run_id: launched.run_id })
    ])

    // the sub-agent fetches its prompt with the handle
    const prompt = await fetchPrompt(server, handle, stepId)
    expect(prompt.status, prompt.text).toBe(200)
    expect(Object.keys(prompt.json).sort()).toEqual(["agent", "attempt", "context", "prompt", "run_id", "system", "task_id"])
    expect(prompt.json).toMatchObject({
      task_id: stepId,
      run_id: launched.run_id,
      attempt: 1,
      agent: "worker",
      system: "You do: say hi",
      prompt: { request: "say hi" }
    })
    expect(typeof prompt.json.context).toBe("object")
    // the long form works too
    const viaToken = await fetchPrompt(server, spawn.capability_token)
    expect(viaToken.status, viaToken.text).toBe(200)
    expect(viaToken.json.task_id).toBe(stepId)

    // ... and posts the raw result
    const resultText = "{\"greeting\": \"hi\", \"n\": 1}"
    const submitted = await submit(server, handle, resultText)
    expect(submitted.status, submitted.text).toBe(200)
    expect(submitted.json).toEqual({ task_id: stepId, bytes: Buffer.byteLength(resultText) })

    // the operator acknowledges the spawn as the directive says: ok, empty value
    const mark = op.mark()
    op.spawnAck(spawn.req_id, { ok: true })
    const after = await op.waitType("hook_after", { from: mark })
    expect(after.req_id).toMatch(reqIdOf(op.sid, "ha"))
    expect(after).toMatchObject({ task_id: stepId, agent: "worker", attempt: 1, result: { greeting: "hi", n: 1 } })

    // the run ends done with the submitted value at `out`
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run).toMatchObject({
      run_id: launched.run_id,
      task_id: launched.task_id,
      input: { request: "say hi" },
      result: { request: "say hi", answer: { greeting: "hi", n: 1 } }
    })
    expect(typeof run.created_at).toBe("string")
    expect(typeof run.finished_at).toBe("string")
    expect(run.error).toBeUndefined()
    expect(run.steps).toHaveLength(1)
    expect(run.steps[0]).toMatchObject({ step_id: stepId, ref: "worker", attempt: 1, status: "passed", value: { greeting: "hi", n: 1 } })
    expect(run.seats).toBeDefined()

    // no error frame was ever sent to this operator
    expect(op.ofType("error")).toEqual([])

    // a late submit for the finished step is 410 and changes nothing
    const late = await submit(server, handle, "too late")
    expect(late.status).toBe(410)
    envelopeCode(late)
    expect((await awaitRun(server, launched.run_id)).result.answer).toEqual({ greeting: "hi", n: 1 })

    // the event stream: live, and replayed after the end, in order
    const checkOrder = (types: Array<string | undefined>) => {
      const spec = types.filter((t): t is string => t !== undefined && SPEC_EVENTS.includes(t))
      expect(spec[0]).toBe("run_started")
      expect(spec.at(-1)).toBe("run_finished")
      const first = (t: string) => spec.indexOf(t)
      const last = (t: string) => spec.lastIndexOf(t)
      expect(first("step_started")).toBeGreaterThan(first("run_started"))
      expect(first("request_sent")).toBeGreaterThan(first("step_started"))
      expect(first("request_answered")).toBeGreaterThan(first("request_sent"))
      expect(last("step_finished")).toBeGreaterThan(last("request_answered"))
      expect(first("run_finished")).toBeGreaterThan(last("step_finished"))
      // hook_before and spawn each went out and came back
      expect(spec.filter((t) => t === "request_sent").length).toBeGreaterThanOrEqual(2)
      expect(spec.filter((t) => t === "request_answered").length).toBeGreaterThanOrEqual(2)
      expect(spec.filter((t) => t === "run_finished")).toHaveLength(1)
      return spec
    }
    const liveRead = await live
    expect(liveRead.status).toBe(200)
    expect(liveRead.contentType).toMatch(/^text\/event-stream/)
    const liveTypes = checkOrder(liveRead.events.map(sseType))

    const replay = await readEvents(server, launched.run_id)
    expect(replay.status).toBe(200)
    expect(checkOrder(replay.events.map(sseType))).toEqual(liveTypes)
    // the end states are on the events (the step passed, the run is done)
    const dataOf = (t: string) => replay.events.filter((e) => sseType(e) === t).map((e) => e.data)
    expect(dataOf("step_finished").map((d) => d?.status)).toEqual(["passed"])
    expect(dataOf("run_finished").map((d) => d?.status)).toEqual(["done"])
    // every event names this run
    for (const e of replay.events) {
      if (typeof e.data === "object" && e.data !== null && "run_id" in e.data) expect(e.data.run_id).toBe(launched.run_id)
    }

    await op.close()
  })

  it("an inline blueprint with wait:true answers 200 with the finished run", async () => {
    const op = await ScriptedOperator.login(server)
    const pending = request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: oneStepBlueprint({ id: "e2e-inline" }),
      input: { request: "inline" },
      operator_sid: op.sid,
      wait: true
    }))
    const spawn = await op.waitType("spawn")
    expect((await submit(server, spawn.worker_handle, "plain text result  \n")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const reply = await pending
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json).toMatchObject({ status: "done", result: { answer: "plain text result" } })
    await op.close()
  })
})
