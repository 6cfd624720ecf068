/** Route-level tests of /v1/tasks (http-api.md, Tasks and runs). */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { envelopeCode, jsonBody, login, request, startServer, type TestServer } from "./helpers.js"
import {
  identityBlueprint,
  launch,
  operatorBlueprint,
  sleepBlueprint,
  UNKNOWN_SID,
  UNKNOWN_TASK,
  waitRun
} from "./routes-fixtures.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const taskCount = async () => (await request(server, "GET", "/v1/tasks")).json.tasks.length

describe("POST /v1/tasks", () => {
  it("202 {task_id, run_id, status: running}; the run finishes with input merged over default_input", async () => {
    const reply = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: identityBlueprint({ default_input: { a: 1, b: "default" } }),
      input: { b: "given" }
    }))
    expect(reply.status, reply.text).toBe(202)
    expect(Object.keys(reply.json).sort()).toEqual(["run_id", "status", "task_id"])
    expect(reply.json.status).toBe("running")
    expect(reply.json.task_id).toMatch(/^T-[0-9a-f]{16}$/)
    expect(reply.json.run_id).toMatch(/^R-[0-9a-f]{16}$/)
    const run = await waitRun(server, reply.json.run_id)
    expect(run.status).toBe("done")
    expect(run.input).toEqual({ a: 1, b: "given" })
    expect(run.result).toEqual({ a: 1, b: "given", out: { a: 1, b: "given" } })
  })

  it("wait: true answers 200 with the finished run as GET /v1/runs/:id shows it", async () => {
    const reply = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: identityBlueprint(),
      input: { x: 1 },
      wait: true
    }))
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json.status).toBe("done")
    expect(reply.json.result).toEqual({ x: 1, out: { x: 1 } })
    expect(reply.json.steps.map((s: any) => [s.ref, s.status])).toEqual([["id", "passed"]])
    const get = await request(server, "GET", `/v1/runs/${reply.json.run_id}`)
    expect(reply.json).toEqual(get.json)
  })

  it("wait: true waits for the end (a 300 ms sleep) and reports a failed run too", async () => {
    const started = Date.now()
    const slept = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: sleepBlueprint(),
      input: { nap: { ms: 300 } },
      wait: true
    }))
    expect(slept.status).toBe(200)
    expect(slept.json.status).toBe("done")
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    const failed = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: {
        agents: [{ name: "boom", kind: "builtin", fn: "fail" }],
        flow: { kind: "step", ref: "boom", in: { op: "lit", value: { why: "on purpose" } }, out: "$.x" }
      },
      wait: true
    }))
    expect(failed.status).toBe(200)
    expect(failed.json.status).toBe("failed")
    expect(failed.json.error).toMatchObject({ failed_step: "boom", step_value: { why: "on purpose" } })
  })

  it("a stored blueprint by id runs its latest version", async () => {
    await request(server, "PUT", "/v1/blueprints/tasks-stored", jsonBody(identityBlueprint({ default_input: { v: 1 } })))
    await request(server, "PUT", "/v1/blueprints/tasks-stored", jsonBody(identityBlueprint({ default_input: { v: 2 } })))
    const reply = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: "tasks-stored", wait: true }))
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json.input).toEqual({ v: 2 })
    const task = await request(server, "GET", `/v1/tasks/${reply.json.task_id}`)
    expect(task.json).toMatchObject({ blueprint_id: "tasks-stored", blueprint_version: 2 })
  })

  it("an invalid inline blueprint is 422 with details, and no task is created", async () => {
    const before = await taskCount()
    const reply = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: { agents: [{ name: "id", kind: "builtin", fn: "nope" }], flow: { kind: "step", ref: "ghost" } }
    }))
    expect(reply.status, reply.text).toBe(422)
    expect(envelopeCode(reply)).toBe("invalid_blueprint")
    expect(reply.json.error.details.length).toBeGreaterThanOrEqual(2)
    expect(await taskCount()).toBe(before)
  })

  it("an unknown blueprint id or operator_sid is 404, and no task is created", async () => {
    const before = await taskCount()
    const noBlueprint = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: "no-such-blueprint" }))
    expect(noBlueprint.status).toBe(404)
    expect(envelopeCode(noBlueprint)).toBe("unknown_blueprint")
    expect(noBlueprint.json.error.message).toContain("no-such-blueprint")
    const noSid = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: identityBlueprint(),
      operator_sid: UNKNOWN_SID
    }))
    expect(noSid.status).toBe(404)
    expect(envelopeCode(noSid)).toBe("unknown_session")
    expect(noSid.json.error.message).toContain(UNKNOWN_SID)
    expect(await taskCount()).toBe(before)
  })

  it("operator_sid seats the session in every seat of the run", async () => {
    const { sid } = await login(server, "seated")
    const { run_id } = await launch(server, { blueprint: operatorBlueprint(), input: { task: "t" }, operator_sid: sid })
    const run = await request(server, "GET", `/v1/runs/${run_id}`)
    expect(run.json.status).toBe("running")
    expect(run.json.seats).toEqual({ main: { sid, generation: 1 } })
    expect((await request(server, "POST", `/v1/runs/${run_id}/cancel`)).status).toBe(202)
  })

  it("bad bodies are 400 naming the field: missing, wrong type, unknown field, not an object", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ input: {} }, /`blueprint`/],
      [{ blueprint: 5 }, /`blueprint`/],
      [{ blueprint: "" }, /`blueprint`/],
      [{ blueprint: [1] }, /`blueprint`/],
      [{ blueprint: identityBlueprint(), wait: "yes" }, /`wait`/],
      [{ blueprint: identityBlueprint(), operator_sid: 7 }, /`operator_sid`/],
      [{ blueprint: identityBlueprint(), colour: "red" }, /`colour`/],
      [[1], /JSON object/],
      [null, /JSON object/]
    ]
    for (const [body, names] of cases) {
      const reply = await request(server, "POST", "/v1/tasks", jsonBody(body))
      expect(reply.status, `${JSON.stringify(body)}: ${reply.text}`).toBe(400)
      expect(envelopeCode(reply)).toBe("invalid_request")
      expect(reply.json.error.message).toMatch(names)
    }
  })

  it("unparsable JSON is 400 invalid_json; a form body is 415", async () => {
    const bad = await request(server, "POST", "/v1/tasks", { headers: { "content-type": "application/json" }, body: "{" })
    expect(bad.status).toBe(400)
    expect(envelopeCode(bad)).toBe("invalid_json")
    const form = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "blueprint=x"
    })
    expect(form.status).toBe(415)
    expect(envelopeCode(form)).toBe("unsupported_media_type")
  })
})

describe("GET /v1/tasks and /v1/tasks/:id", () => {
  it("lists tasks newest first with their last run", async () => {
    const first = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: identityBlueprint(), wait: true }))
    const second = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: identityBlueprint({ id: "named-inline" }),
      wait: true
    }))
    const reply = await request(server, "GET", "/v1/tasks")
    expect(reply.status).toBe(200)
    const ids = reply.json.tasks.map((t: any) => t.task_id)
    expect(ids.indexOf(second.json.task_id)).toBeLessThan(ids.indexOf(first.json.task_id))
    const entry = reply.json.tasks.find((t: any) => t.task_id === second.json.task_id)
    expect(entry).toEqual({
      task_id: second.json.task_id,
      blueprint_id: "named-inline",
      created_at: expect.any(String),
      last_run_id: second.json.run_id,
      last_status: "done"
    })
    expect(reply.json.tasks.find((t: any) => t.task_id === first.json.task_id).blueprint_id).toBe("inline")
  })

  it("GET /v1/tasks/:id is the task with its runs, oldest first; unknown is 404", async () => {
    const launched = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: identityBlueprint(), wait: true }))
    const rerun = await request(server, "POST", `/v1/tasks/${launched.json.task_id}/runs`, jsonBody({ input: { n: 2 } }))
    await waitRun(server, rerun.json.run_id)
    const reply = await request(server, "GET", `/v1/tasks/${launched.json.task_id}`)
    expect(reply.status).toBe(200)
    expect(reply.json).toMatchObject({ task_id: launched.json.task_id, blueprint_id: "inline" })
    // the inline blueprint's snapshot, so a client (the console's flow tree) needs no second request
    expect(reply.json.blueprint).toEqual(identityBlueprint())
    expect(Object.keys(reply.json).sort()).toEqual(["blueprint", "blueprint_id", "created_at", "runs", "task_id"])
    expect(reply.json.runs.map((r: any) => r.run_id)).toEqual([launched.json.run_id, rerun.json.run_id])
    expect(reply.json.runs[1]).toMatchObject({ status: "done", input: { n: 2 }, result: { n: 2, out: { n: 2 } } })
    expect(reply.json.runs[0].steps).toBeUndefined()
    const unknown = await request(server, "GET", `/v1/tasks/${UNKNOWN_TASK}`)
    expect(unknown.status).toBe(404)
    expect(envelopeCode(unknown)).toBe("unknown_task")
  })
})

describe("POST /v1/tasks/:id/runs", () => {
  it("202 a new run of the same task; an empty body re-runs with the task's original input", async () => {
    const launched = await launch(server, { blueprint: identityBlueprint({ default_input: { d: true } }), input: { i: 1 } })
    const empty = await request(server, "POST", `/v1/tasks/${launched.task_id}/runs`)
    expect(empty.status, empty.text).toBe(202)
    expect(empty.json).toEqual({ task_id: launched.task_id, run_id: expect.stringMatching(/^R-/), status: "running" })
    expect(empty.json.run_id).not.toBe(launched.run_id)
    const run = await waitRun(server, empty.json.run_id)
    expect(run.input).toEqual({ d: true, i: 1 })
  })

  it("unknown task 404, unknown operator_sid 404, unknown field 400", async () => {
    const noTask = await request(server, "POST", `/v1/tasks/${UNKNOWN_TASK}/runs`, jsonBody({}))
    expect(noTask.status).toBe(404)
    expect(envelopeCode(noTask)).toBe("unknown_task")
    const launched = await launch(server, { blueprint: identityBlueprint() })
    const noSid = await request(server, "POST", `/v1/tasks/${launched.task_id}/runs`, jsonBody({ operator_sid: UNKNOWN_SID }))
    expect(noSid.status).toBe(404)
    expect(envelopeCode(noSid)).toBe("unknown_session")
    const unknownField = await request(server, "POST", `/v1/tasks/${launched.task_id}/runs`, jsonBody({ wait: true }))
    expect(unknownField.status).toBe(400)
    expect(unknownField.json.error.message).toMatch(/`wait`/)
  })
})
