/** Route-level tests of /v1/worker/* (http-api.md, Worker endpoints) and the spawn directive's URLs. */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, jsonBody, request, startServer, type TestServer } from "./helpers.js"
import {
  declaredPost,
  handOut,
  type HandedOut,
  operatorBlueprint,
  type Server,
  spawnAck,
  startApp,
  waitRun,
  workerPost
} from "./routes-fixtures.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const prompt = (credential: string | undefined, query = "") =>
  request(server, "GET", `/v1/worker/prompt${query}`, { headers: credential === undefined ? {} : bearer(credential) })

const finish = async (out: HandedOut) => {
  spawnAck(out)
  const run = await waitRun(server, out.run_id)
  out.client.close()
  return run
}

describe("spawn directive", () => {
  it("names this server's real bound address in the worker endpoints", async () => {
    const out = await handOut(server)
    const base = `http://127.0.0.1:${server.port}`
    expect(out.spawn.directive).toContain(`${base}/v1/worker/prompt?task_id=${out.step}`)
    expect(out.spawn.directive).toContain(`POST ${base}/v1/worker/submit`)
    expect(out.spawn.directive).toContain(`DATA_EMIT: ${base}/v1/data/emit`)
    expect(out.spawn.directive).toContain(`worker_handle: ${out.handle}`)
    expect(out.handle).toMatch(/^wh-[a-z0-9]{12}$/)
    await request(server, "POST", `/v1/runs/${out.run_id}/cancel`)
    out.client.close()
  })

  it("uses --public-url when one is given", async () => {
    const app = await startApp({ publicUrl: "https://gate.example.test/" })
    try {
      const out = await handOut(app)
      expect(out.spawn.directive).toContain(`GET https://gate.example.test/v1/worker/prompt?task_id=${out.step}`)
      expect(out.spawn.directive).not.toContain("127.0.0.1")
      out.client.close()
    } finally {
      await app.close()
    }
  })
})

describe("GET /v1/worker/prompt", () => {
  it("200 the step's prompt payload, by handle and by capability token", async () => {
    const out = await handOut(
      server,
      operatorBlueprint({ system_prompt: "You write {{ lang }} code." }, { metadata: { project_name_alias: "proj" } }),
      { task: { lang: "Rust", what: "a parser" } }
    )
    const expected = {
      task_id: out.step,
      run_id: out.run_id,
      attempt: 1,
      agent: "coder",
      system: "You write Rust code.",
      prompt: { lang: "Rust", what: "a parser" },
      context: { run_id: out.run_id, agent: "coder", attempt: 1, project_name_alias: "proj" }
    }
    const byHandle = await prompt(out.handle, `?task_id=${out.step}`)
    expect(byHandle.status, byHandle.text).toBe(200)
    expect(byHandle.json).toEqual(expected)
    const byToken = await prompt(out.capability)
    expect(byToken.status).toBe(200)
    expect(byToken.json).toEqual(expected)
    await finish(out)
  })

  it("a string input stays a string; system is null without a system_prompt", async () => {
    const out = await handOut(server, operatorBlueprint(), { task: "just text" })
    const reply = await prompt(out.handle)
    expect(reply.json.prompt).toBe("just text")
    expect(reply.json.system).toBeNull()
    await finish(out)
  })

  it("another step's task_id is 403; credential failures are 401 with distinct codes", async () => {
    const one = await handOut(server)
    const two = await handOut(server)
    const crossed = await prompt(one.handle, `?task_id=${two.step}`)
    expect(crossed.status).toBe(403)
    expect(envelopeCode(crossed)).toBe("wrong_step")
    expect(crossed.text).not.toContain(two.handle)

    const missing = await prompt(undefined)
    expect(missing.status).toBe(401)
    expect(envelopeCode(missing)).toBe("missing_credential")
    const malformed = await request(server, "GET", "/v1/worker/prompt", { headers: { authorization: one.handle } })
    expect(malformed.status).toBe(401)
    expect(envelopeCode(malformed)).toBe("malformed_credential")
    for (const wrong of ["wh-aaaaaaaaaaaa", "not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", one.token]) {
      const reply = await prompt(wrong)
      expect(reply.status, wrong).toBe(401)
      expect(envelopeCode(reply)).toBe("bad_credential")
    }
    // a forged token: a real one with its signature changed
    const forged = one.capability.slice(0, -4) + (one.capability.endsWith("AAAA") ? "BBBB" : "AAAA")
    const forgedReply = await prompt(forged)
    expect(forgedReply.status).toBe(401)
    expect(envelopeCode(forgedReply)).toBe("bad_credential")
    await finish(one)
    await finish(two)
  })

  it("a finished step is 410", async () => {
    const out = await handOut(server)
    await finish(out)
    const reply = await prompt(out.handle)
    expect(reply.status).toBe(410)
    expect(envelopeCode(reply)).toBe("step_gone")
  })
})

describe("expired credentials", () => {
  let app: Server
  beforeAll(async () => {
    app = await startApp({}, { workerTokenTtl: "1 second", tokenRefreshWindow: "100 millis" })
  })
  afterAll(() => app.close())

  it("a handle or token past its TTL is 401 credential_expired, never 500", async () => {
    const out = await handOut(app)
    expect((await request(app, "GET", "/v1/worker/prompt", { headers: bearer(out.handle) })).status).toBe(200)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    for (const credential of [out.handle, out.capability]) {
      const reply = await request(app, "GET", "/v1/worker/prompt", { headers: bearer(credential) })
      expect(reply.status, reply.text).toBe(401)
      expect(envelopeCode(reply)).toBe("credential_expired")
      const submit = await workerPost(app, "/v1/worker/submit", credential, "late")
      expect(submit.status).toBe(401)
      expect(envelopeCode(submit)).toBe("credential_expired")
    }
    out.client.close()
  })
})

describe("POST /v1/worker/submit", () => {
  it("200 {task_id, bytes}; the body becomes the step value (JSON object parsed, text trimmed)", async () => {
    const out = await handOut(server)
    const body = "```json\n{\"answer\": 42}\n```\n"
    const reply = await workerPost(server, "/v1/worker/submit", out.handle, body)
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json).toEqual({ task_id: out.step, bytes: Buffer.byteLength(body) })
    const run = await finish(out)
    expect(run.status).toBe("done")
    expect(run.steps[0].value).toEqual({ answer: 42 })
    expect(run.result.result).toEqual({ answer: 42 })

    const text = await handOut(server)
    await workerPost(server, "/v1/worker/submit?verdict=pass", text.capability, "héllo  \n\n", "application/octet-stream")
    expect((await finish(text)).steps[0].value).toBe("héllo")
  })

  it("verdict=blocked fails the flow; verdict=skip lets it go on with the step skipped", async () => {
    const blocked = await handOut(server)
    expect((await workerPost(server, "/v1/worker/submit?verdict=blocked", blocked.handle, "no way")).status).toBe(200)
    const failed = await finish(blocked)
    expect(failed.status).toBe("failed")
    expect(failed.steps[0].status).toBe("blocked")
    const skipped = await handOut(server)
    expect((await workerPost(server, "/v1/worker/submit?verdict=skip", skipped.handle, "not needed")).status).toBe(200)
    const done = await finish(skipped)
    expect(done.status).toBe("done")
    expect(done.steps[0].status).toBe("skipped")
  })

  it("an unknown verdict is 400 naming it, and nothing is stored", async () => {
    const out = await handOut(server)
    const reply = await workerPost(server, "/v1/worker/submit?verdict=maybe", out.handle, "x")
    expect(reply.status).toBe(400)
    expect(envelopeCode(reply)).toBe("invalid_request")
    expect(reply.json.error.message).toMatch(/`verdict`/)
    expect(reply.json.error.message).toMatch(/pass, blocked, skip/)
    const run = await finish(out)
    // no submission: the step fell back to the spawn_ack value
    // no submission and an empty spawn_ack value: no_result
    expect(run.steps[0].error).toContain("no_result")
  })

  it("a result outside the agent's verdicts is 422 listing the allowed ones", async () => {
    const out = await handOut(server, operatorBlueprint({ verdicts: ["approve", "reject"] }))
    const reply = await workerPost(server, "/v1/worker/submit", out.handle, "maybe")
    expect(reply.status).toBe(422)
    expect(envelopeCode(reply)).toBe("verdict_refused")
    expect(reply.json.error.details).toEqual([{ path: "$", message: "must be one of \"approve\", \"reject\"" }])
    expect((await workerPost(server, "/v1/worker/submit", out.handle, "approve")).status).toBe(200)
    expect((await finish(out)).steps[0].value).toBe("approve")
  })

  it("a submit after the step finished, or after the run ended, is 410 and changes nothing", async () => {
    const out = await handOut(server)
    await workerPost(server, "/v1/worker/submit", out.handle, "first")
    const run = await finish(out)
    const late = await workerPost(server, "/v1/worker/submit", out.handle, "second")
    expect(late.status).toBe(410)
    expect(envelopeCode(late)).toBe("step_gone")
    const after = await request(server, "GET", `/v1/runs/${out.run_id}`)
    expect(after.json.steps).toEqual(run.steps)

    const cancelled = await handOut(server)
    await request(server, "POST", `/v1/runs/${cancelled.run_id}/cancel`)
    const gone = await workerPost(server, "/v1/worker/submit", cancelled.capability, "too late")
    expect(gone.status).toBe(410)
    expect(envelopeCode(gone)).toBe("step_gone")
    cancelled.client.close()
  })

  it("a declared body over 16 MiB is 413 from the header alone", async () => {
    const out = await handOut(server)
    const reply = await declaredPost(server, "/v1/worker/submit", bearer(out.handle), 16 * 1024 * 1024 + 1)
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.body).error.code).toBe("payload_too_large")
    // refused before the credential is looked at
    const anonymous = await declaredPost(server, "/v1/worker/submit", {}, 64 * 1024 * 1024)
    expect(anonymous.status).toBe(413)
    const run = await finish(out)
    // no submission and an empty spawn_ack value: no_result
    expect(run.steps[0].error).toContain("no_result")
  })

  it("no credential is 401", async () => {
    const reply = await request(server, "POST", "/v1/worker/submit", { body: "x" })
    expect(reply.status).toBe(401)
    expect(envelopeCode(reply)).toBe("missing_credential")
  })
})

describe("POST /v1/worker/result", () => {
  it("{value, ok: true} passes the step with that value; ok: false blocks it", async () => {
    const out = await handOut(server)
    const reply = await request(server, "POST", "/v1/worker/result", {
      headers: { ...bearer(out.handle), "content-type": "application/json" },
      body: JSON.stringify({ value: { files: 3 }, ok: true })
    })
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json).toEqual({ task_id: out.step, bytes: Buffer.byteLength(JSON.stringify({ files: 3 })) })
    expect((await finish(out)).steps[0].value).toEqual({ files: 3 })

    const bad = await handOut(server)
    await request(server, "POST", "/v1/worker/result", {
      headers: { ...bearer(bad.handle), "content-type": "application/json" },
      body: JSON.stringify({ value: "broke", ok: false })
    })
    const failed = await finish(bad)
    expect(failed.steps[0]).toMatchObject({ status: "blocked", value: "broke" })
  })

  it("bad bodies are 400 naming the field; a non-JSON body is 415", async () => {
    const out = await handOut(server)
    const post = (body: unknown) =>
      request(server, "POST", "/v1/worker/result", {
        headers: { ...bearer(out.handle), "content-type": "application/json" },
        body: JSON.stringify(body)
      })
    for (const [body, field] of [[{ ok: true }, "value"], [{ value: 1 }, "ok"], [{ value: 1, ok: "yes" }, "ok"], [
      { value: 1, ok: true, verdict: "pass" },
      "verdict"
    ]] as const) {
      const reply = await post(body)
      expect(reply.status, JSON.stringify(body)).toBe(400)
      expect(reply.json.error.message).toContain(`\`${field}\``)
      expect(reply.json.error.details).toContainEqual(expect.objectContaining({ path: field }))
    }
    const text = await request(server, "POST", "/v1/worker/result", {
      headers: { ...bearer(out.handle), "content-type": "text/plain" },
      body: "{\"value\": 1, \"ok\": true}"
    })
    expect(text.status).toBe(415)
    await finish(out)
  })
})

describe("POST /v1/worker/artifact", () => {
  it("stages named parts: the step value becomes {out, parts}", async () => {
    const out = await handOut(server)
    const part = await workerPost(server, "/v1/worker/artifact?name=diff", out.handle, "--- a\n+++ b\n")
    expect(part.status, part.text).toBe(200)
    expect(part.json).toEqual({ task_id: out.step, name: "diff", bytes: 12 })
    await workerPost(server, "/v1/worker/artifact?name=meta", out.handle, "{\"lines\": 2}")
    await workerPost(server, "/v1/worker/submit", out.handle, "done")
    const run = await finish(out)
    expect(run.steps[0].value).toEqual({ out: "done", parts: { diff: "--- a\n+++ b", meta: { lines: 2 } } })
  })

  it("a missing name is 400 naming it; an empty one is 400; a finished step is 410", async () => {
    const out = await handOut(server)
    const missing = await workerPost(server, "/v1/worker/artifact", out.handle, "x")
    expect(missing.status).toBe(400)
    expect(missing.json.error.message).toMatch(/`name`/)
    const empty = await workerPost(server, "/v1/worker/artifact?name=", out.handle, "x")
    expect(empty.status).toBe(400)
    expect(envelopeCode(empty)).toBe("invalid_request")
    await finish(out)
    const late = await workerPost(server, "/v1/worker/artifact?name=late", out.handle, "x")
    expect(late.status).toBe(410)
  })
})

describe("POST /v1/worker/ask", () => {
  const ask = (credential: string, body: unknown) =>
    request(server, "POST", "/v1/worker/ask", {
      headers: { ...bearer(credential), "content-type": "application/json" },
      body: JSON.stringify(body)
    })

  it("the operator gets an ask nested under the spawn; its answer comes back as {answer}", async () => {
    const out = await handOut(server)
    const pending = ask(out.handle, { question: { pick: ["a", "b"] } })
    const frame = await out.client.waitFor((f) => f.type === "ask")
    expect(frame).toMatchObject({ task_id: out.step, parent_req_id: out.spawn.req_id, question: { pick: ["a", "b"] } })
    out.client.send({ type: "answer", req_id: frame.req_id, value: "b" })
    const reply = await pending
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json).toEqual({ answer: "b" })
    await finish(out)
  })

  it("409 ask_failed when the ask is withdrawn because the run is cancelled", async () => {
    const out = await handOut(server)
    const pending = ask(out.capability, { question: "continue?" })
    const frame = await out.client.waitFor((f) => f.type === "ask")
    await request(server, "POST", `/v1/runs/${out.run_id}/cancel`)
    const reply = await pending
    expect(reply.status, reply.text).toBe(409)
    expect(envelopeCode(reply)).toBe("ask_failed")
    await out.client.waitFor((f) => f.type === "cancel" && f.req_id === frame.req_id)
    out.client.close()
  })

  it("a missing question or unknown field is 400; a finished step is 410; no credential 401", async () => {
    const out = await handOut(server)
    const missing = await ask(out.handle, {})
    expect(missing.status).toBe(400)
    expect(missing.json.error.message).toMatch(/`question`/)
    const extra = await ask(out.handle, { question: "q", urgent: true })
    expect(extra.status).toBe(400)
    expect(extra.json.error.message).toMatch(/`urgent`/)
    await finish(out)
    const late = await ask(out.handle, { question: "q" })
    expect(late.status).toBe(410)
    const anonymous = await request(server, "POST", "/v1/worker/ask", jsonBody({ question: "q" }))
    expect(anonymous.status).toBe(401)
  })
})
