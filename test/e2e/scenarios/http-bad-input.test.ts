/**
 * Scenario 6 (http-api.md, error envelope): bad input on the task, run and blueprint routes.
 * Every refusal is `{"error": {"code", "message"}}` with the fitting status; messages name
 * the offending field.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { envelopeCode, jsonBody, request, type Reply, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { emit, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const json = (s: string) => ({ headers: { "content-type": "application/json" }, body: s })
const builtinBlueprint = {
  agents: [{ name: "id", kind: "builtin", fn: "identity" }],
  flow: { kind: "step", ref: "id", in: { op: "path", at: "$" }, out: "$.out" }
}
const UNKNOWN_SID = `S-${"0".repeat(32)}`
const UNKNOWN_RUN = `R-${"0".repeat(16)}`
const UNKNOWN_TASK = `T-${"0".repeat(16)}`

interface Case {
  readonly name: string
  readonly method: string
  readonly path: string
  readonly options?: { headers?: Record<string, string>; body?: string }
  readonly status: number
  readonly code?: string
  /** The message must match (names the field). */
  readonly names?: RegExp
}

const expectEnvelope = (c: Case, reply: Reply) => {
  expect(reply.status, `${c.name}: ${reply.text}`).toBe(c.status)
  const code = envelopeCode(reply)
  if (c.code !== undefined) expect(code, c.name).toBe(c.code)
  if (c.names !== undefined) expect(reply.json.error.message, c.name).toMatch(c.names)
  expect(reply.headers.get("content-type") ?? "", c.name).toMatch(/json/)
}

describe("scenario 6: bad input over HTTP", () => {
  const cases: Array<Case> = [
    // POST /v1/tasks: malformed bodies
    { name: "tasks: not JSON", method: "POST", path: "/v1/tasks", options: json("{nope"), status: 400, code: "invalid_json" },
    { name: "tasks: JSON array", method: "POST", path: "/v1/tasks", options: json("[1]"), status: 400 },
    { name: "tasks: no blueprint", method: "POST", path: "/v1/tasks", options: jsonBody({ input: {} }), status: 400, names: /blueprint/ },
    { name: "tasks: blueprint is a number", method: "POST", path: "/v1/tasks", options: jsonBody({ blueprint: 5 }), status: 400, names: /blueprint/ },
    {
      name: "tasks: operator_sid is a number",
      method: "POST",
      path: "/v1/tasks",
      options: jsonBody({ blueprint: builtinBlueprint, operator_sid: 7 }),
      status: 400,
      names: /operator_sid/
    },
    {
      name: "tasks: wait is a string",
      method: "POST",
      path: "/v1/tasks",
      options: jsonBody({ blueprint: builtinBlueprint, wait: "yes" }),
      status: 400,
      names: /wait/
    },
    {
      name: "tasks: form-encoded body",
      method: "POST",
      path: "/v1/tasks",
      options: { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "blueprint=x" },
      status: 415
    },
    // unknown ids
    {
      name: "tasks: unknown blueprint id",
      method: "POST",
      path: "/v1/tasks",
      options: jsonBody({ blueprint: "no-such-blueprint" }),
      status: 404,
      names: /no-such-blueprint/
    },
    {
      name: "tasks: unknown operator_sid",
      method: "POST",
      path: "/v1/tasks",
      options: jsonBody({ blueprint: builtinBlueprint, operator_sid: UNKNOWN_SID }),
      status: 404
    },
    // invalid inline blueprint: 422, unknown field named by its path
    {
      name: "tasks: inline blueprint with an unknown field",
      method: "POST",
      path: "/v1/tasks",
      options: jsonBody({ blueprint: { ...builtinBlueprint, agents: [{ name: "id", kind: "builtin", fn: "identity", colour: "red" }] } }),
      status: 422,
      names: /colour/
    },
    { name: "GET unknown task", method: "GET", path: `/v1/tasks/${UNKNOWN_TASK}`, status: 404 },
    { name: "re-run unknown task", method: "POST", path: `/v1/tasks/${UNKNOWN_TASK}/runs`, options: jsonBody({}), status: 404 },
    { name: "GET unknown run", method: "GET", path: `/v1/runs/${UNKNOWN_RUN}`, status: 404 },
    { name: "events of unknown run", method: "GET", path: `/v1/runs/${UNKNOWN_RUN}/events`, status: 404 },
    { name: "cancel unknown run", method: "POST", path: `/v1/runs/${UNKNOWN_RUN}/cancel`, status: 404 },
    { name: "resume unknown run", method: "POST", path: `/v1/runs/${UNKNOWN_RUN}/resume`, status: 404 },
    { name: "runs: status not a status", method: "GET", path: "/v1/runs?status=sideways", status: 400, names: /status/ },
    { name: "runs: limit not a number", method: "GET", path: "/v1/runs?limit=many", status: 400, names: /limit/ },
    // blueprints
    { name: "GET unknown blueprint", method: "GET", path: "/v1/blueprints/no-such-blueprint", status: 404 },
    { name: "PUT blueprint not JSON", method: "PUT", path: "/v1/blueprints/bp-bad", options: json("{nope"), status: 400, code: "invalid_json" },
    {
      name: "PUT blueprint with an unknown top-level field",
      method: "PUT",
      path: "/v1/blueprints/bp-bad",
      options: jsonBody({ ...builtinBlueprint, flavour: 1 }),
      status: 422,
      names: /flavour/
    },
    {
      name: "PUT blueprint with a wrong-typed field",
      method: "PUT",
      path: "/v1/blueprints/bp-bad",
      options: jsonBody({ ...builtinBlueprint, middleware: "main_ai" }),
      status: 422,
      names: /middleware/
    }
  ]

  for (const c of cases) {
    it(c.name, async () => {
      expectEnvelope(c, await request(server, c.method, c.path, c.options ?? {}))
    })
  }

  it("an invalid blueprint lists every problem in error.details, and nothing is created", async () => {
    const tasksBefore = (await request(server, "GET", "/v1/tasks")).json?.tasks?.length
    const broken = {
      agents: [{ name: "id", kind: "builtin", fn: "identity", colour: "red" }],
      flow: { kind: "seq", children: [{ kind: "step", ref: "nobody", in: { op: "lit", value: 1 }, out: "$.x" }] }
    }
    const put = await request(server, "PUT", "/v1/blueprints/bp-many", jsonBody(broken))
    expect([400, 422], put.text).toContain(put.status)
    envelopeCode(put)
    expect(Array.isArray(put.json.error.details), put.text).toBe(true)
    expect(put.json.error.details.length).toBeGreaterThanOrEqual(2)
    const details = JSON.stringify(put.json.error.details)
    expect(details).toMatch(/colour/)
    expect(details).toMatch(/nobody/)
    expect((await request(server, "GET", "/v1/blueprints/bp-many")).status).toBe(404)

    const task = await request(server, "POST", "/v1/tasks", jsonBody({ blueprint: broken }))
    expect(task.status, task.text).toBe(422)
    envelopeCode(task)
    expect((await request(server, "GET", "/v1/tasks")).json?.tasks?.length).toBe(tasksBefore)
  })

  it("blueprint versions: PUT counts up, ?version= reads an old one, unknown version 404, DELETE 204 then 404", async () => {
    const v1 = await request(server, "PUT", "/v1/blueprints/bp-versions", jsonBody({ ...builtinBlueprint, description: "one" }))
    expect(v1.status, v1.text).toBe(200)
    expect(v1.json).toEqual({ id: "bp-versions", version: 1 })
    const v2 = await request(server, "PUT", "/v1/blueprints/bp-versions", jsonBody({ ...builtinBlueprint, description: "two" }))
    expect(v2.json).toEqual({ id: "bp-versions", version: 2 })
    // http-api.md says only "the latest version": accept the document itself or a {id, version, blueprint} wrapper
    const doc = (reply: Reply) => reply.json?.blueprint ?? reply.json
    const latest = await request(server, "GET", "/v1/blueprints/bp-versions")
    expect(latest.status).toBe(200)
    expect(doc(latest).description).toBe("two")
    if (latest.json.blueprint !== undefined) expect(latest.json).toMatchObject({ id: "bp-versions", version: 2 })
    expect(doc(await request(server, "GET", "/v1/blueprints/bp-versions?version=1")).description).toBe("one")
    const missing = await request(server, "GET", "/v1/blueprints/bp-versions?version=9")
    expect(missing.status).toBe(404)
    envelopeCode(missing)
    const badVersion = await request(server, "GET", "/v1/blueprints/bp-versions?version=abc")
    expect(badVersion.status).toBe(400)
    expect(badVersion.json.error.message).toMatch(/version/)
    expect((await request(server, "DELETE", "/v1/blueprints/bp-versions")).status).toBe(204)
    const gone = await request(server, "GET", "/v1/blueprints/bp-versions")
    expect(gone.status).toBe(404)
    envelopeCode(gone)
  })

  it("state conflicts: cancel of a finished run and resume of a non-interrupted run are 409", async () => {
    const launched = await launch(server, { blueprint: builtinBlueprint, input: { a: 1 } })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("done")
    expect(run.result).toEqual({ a: 1, out: { a: 1 } })
    for (const path of [`/v1/runs/${launched.run_id}/cancel`, `/v1/runs/${launched.run_id}/resume`]) {
      const reply = await request(server, "POST", path)
      expect(reply.status, `${path}: ${reply.text}`).toBe(409)
      envelopeCode(reply)
    }
  })

  it("tasks and runs: re-run a task, list tasks and runs (newest first, limit)", async () => {
    const first = await launch(server, { blueprint: builtinBlueprint, input: { n: 1 } })
    expect((await awaitRun(server, first.run_id)).status).toBe("done")
    const again = await request(server, "POST", `/v1/tasks/${first.task_id}/runs`, jsonBody({ input: { n: 2 } }))
    expect(again.status, again.text).toBe(202)
    expect(again.json.task_id).toBe(first.task_id)
    expect(again.json.run_id).not.toBe(first.run_id)
    const second = await awaitRun(server, again.json.run_id)
    expect(second.status).toBe("done")
    expect(second.result.out).toMatchObject({ n: 2 })

    const task = await request(server, "GET", `/v1/tasks/${first.task_id}`)
    expect(task.status).toBe(200)
    expect(task.json.task_id).toBe(first.task_id)
    expect(task.json.runs.map((r: any) => r.run_id).sort()).toEqual([first.run_id, again.json.run_id].sort())

    const tasks = await request(server, "GET", "/v1/tasks")
    const listed = tasks.json.tasks.find((t: any) => t.task_id === first.task_id)
    expect(listed).toMatchObject({ last_run_id: again.json.run_id, last_status: "done" })

    const newest = await request(server, "GET", "/v1/runs?limit=1")
    expect(newest.status).toBe(200)
    expect(newest.json.runs).toHaveLength(1)
    expect(newest.json.runs[0].run_id).toBe(again.json.run_id)
    const done = await request(server, "GET", "/v1/runs?status=done")
    expect(done.json.runs.map((r: any) => r.run_id)).toContain(again.json.run_id)
    expect(done.json.runs.filter((r: any) => r.status !== "done")).toEqual([])

    // wait:true on a run that fails answers 200 with the failed run
    const failing = await request(server, "POST", "/v1/tasks", jsonBody({
      blueprint: {
        agents: [{ name: "boom", kind: "builtin", fn: "fail" }],
        flow: { kind: "step", ref: "boom", in: { op: "lit", value: 1 }, out: "$.x" }
      },
      wait: true
    }))
    expect(failing.status, failing.text).toBe(200)
    expect(failing.json.status).toBe("failed")
  })

  it("acquire: a seat the blueprint does not declare is 404, a missing sid is 400 naming it", async () => {
    const login = await request(server, "POST", "/v1/operators", jsonBody({}))
    const { sid, token } = login.json
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: {} })
    const auth = { authorization: `Bearer ${token}` }
    const noSid = await request(server, "POST", `/v1/runs/${launched.run_id}/acquire`, {
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ slot: "lead" })
    })
    expect([400, 401], noSid.text).toContain(noSid.status)
    envelopeCode(noSid)
    if (noSid.status === 400) expect(noSid.json.error.message).toMatch(/sid/)
    const noSeat = await request(server, "POST", `/v1/runs/${launched.run_id}/acquire`, {
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ sid, slot: "no-such-seat" })
    })
    expect(noSeat.status, noSeat.text).toBe(404)
    envelopeCode(noSeat)
    expect(noSeat.text).not.toContain(token)
    expect((await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
  })

  it("a failed run reports {message, failed_step, step_value}", async () => {
    const launched = await launch(server, {
      blueprint: {
        agents: [{ name: "boom", kind: "builtin", fn: "fail" }],
        flow: { kind: "step", ref: "boom", in: { op: "lit", value: { why: "on purpose" } }, out: "$.x" }
      },
      input: {}
    })
    const run = await awaitRun(server, launched.run_id)
    expect(run.status).toBe("failed")
    expect(typeof run.error.message).toBe("string")
    // the spec does not say whether failed_step is the step's ref or its ST- id; either names the step
    expect(String(run.error.failed_step)).toMatch(/^(boom|ST-[0-9a-f]{16})$/)
    expect(run.error.step_value).toEqual({ why: "on purpose" })
  })
})

describe("worker bodies: limits and content types", () => {
  let small: TestServer
  beforeAll(async () => {
    small = await startServer({ limits: { workerBody: 4096 } })
  })
  afterAll(() => small.close())

  it("a submit or emit over the worker body limit is 413 (envelope); the content type of a raw body is free", async () => {
    const op = await ScriptedOperator.login(small)
    const launched = await launch(small, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")

    // status counts the run and the pending request meanwhile
    const status = await request(small, "GET", "/v1/status")
    expect(status.json).toMatchObject({ running_runs: 1, sessions: 1, connected_sessions: 1, pending_requests: 1 })

    const big = "x".repeat(5000)
    const tooBig = await submit(small, spawn.worker_handle, big)
    expect(tooBig.status, tooBig.text).toBe(413)
    envelopeCode(tooBig)
    const tooBigEmit = await emit(small, spawn.worker_handle, "big", big)
    expect(tooBigEmit.status, tooBigEmit.text).toBe(413)
    envelopeCode(tooBigEmit)

    // a raw body under any content type is accepted
    for (const contentType of ["application/json", "application/octet-stream", "text/markdown"]) {
      const reply = await submit(small, spawn.worker_handle, "{\"ct\": \"" + contentType + "\"}", { contentType })
      expect(reply.status, `${contentType}: ${reply.text}`).toBe(200)
    }
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(small, launched.run_id)
    expect(run.status).toBe("done")
    expect(run.result.answer).toEqual({ ct: "text/markdown" })
    await op.close()
  })
})
