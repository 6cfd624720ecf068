/**
 * Issue 9, "Security and hostile input" (quality.md S6–S8): each numbered finding of the
 * black-box probe, replayed over a real server on loopback, as an attacker would send it
 * (HTTP and the WebSocket only). Every test is named after its finding.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { connect as netConnect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WebSocket } from "ws"
import { validateBlueprint } from "../../../src/services/flow/validate.js"
import { bearer, envelopeCode, jsonBody, request, sleep, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, rawUpgrade, ScriptedOperator } from "./operator-client.js"
import { emit, getData, submit } from "./sub-agent.js"

let server: TestServer
let dir: string

beforeAll(async () => {
  server = await startServer()
  dir = mkdtempSync(join(tmpdir(), "swarmgate-hostile-"))
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Raw {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
}

/** A request with any headers (fetch will not send `Host` or a browser `Origin` as given). */
const raw = (
  target: TestServer,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer
): Promise<Raw> =>
  new Promise((resolve, reject) => {
    const req = httpRequest(target.url + path, { method, headers, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }))
    })
    req.on("error", reject)
    req.end(body)
  })

const codeOf = (r: { readonly text: string }): string => JSON.parse(r.text).error.code

/** `{"a":{"a":...}}` nested `depth` levels around `leaf`. */
const nested = (depth: number, leaf = "1") => "{\"a\":".repeat(depth) + leaf + "}".repeat(depth)

/** A blueprint whose one subprocess step creates `file`: what a hostile page would launch. */
const touchBlueprint = (file: string) => ({
  id: "touch",
  agents: [{ name: "w", kind: "subprocess", command: ["touch", file], stdin: false }],
  flow: { kind: "step", ref: "w", in: { op: "path", at: "$" }, out: "$.out" }
})

const taskCount = async () => (await request(server, "GET", "/v1/tasks")).json.tasks.length

describe("finding 1: a web page cannot run commands on the host", () => {
  it("finding 1: POST /v1/tasks with no Content-Type or text/plain is 415 and runs nothing", async () => {
    const file = join(dir, "pwned-1")
    const before = await taskCount()
    const body = JSON.stringify({ blueprint: touchBlueprint(file), wait: true })
    // what a cross-site form or a no-cors fetch can send without a preflight
    for (const headers of [{}, { "content-type": "text/plain" }, { "content-type": "application/x-www-form-urlencoded" }]) {
      const reply = await raw(server, "POST", "/v1/tasks", { host: `127.0.0.1:${server.port}`, ...headers }, body)
      expect(reply.status, JSON.stringify(headers)).toBe(415)
      expect(codeOf(reply)).toBe("unsupported_media_type")
    }
    await sleep(200)
    expect(existsSync(file)).toBe(false)
    expect(await taskCount()).toBe(before)
  })

  it("finding 1: a rebinding Host is 421 on every route and the upgrade; loopback names pass", async () => {
    const evil = { host: "rebind.evil.example" }
    for (const [method, path] of [["GET", "/v1/healthz"], ["GET", "/v1/runs"], ["POST", "/v1/operators"]] as const) {
      const reply = await raw(server, method, path, evil)
      expect(reply.status, path).toBe(421)
      expect(codeOf(reply)).toBe("host_not_allowed")
    }
    const upgrade = await rawUpgrade(server, "/v1/operators/S-0/ws", evil)
    expect(upgrade.upgraded).toBe(false)
    expect(upgrade.status).toBe(421)
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`, "localhost"]) {
      expect((await raw(server, "GET", "/v1/healthz", { host })).status, host).toBe(200)
    }
  })

  it("finding 1: a foreign Origin is 403 on every route and the upgrade; the server's own origin passes; no CORS headers", async () => {
    const page = { host: `127.0.0.1:${server.port}`, origin: "https://evil.example" }
    const file = join(dir, "pwned-origin")
    const launchReply = await raw(
      server,
      "POST",
      "/v1/tasks",
      { ...page, "content-type": "application/json" },
      JSON.stringify({ blueprint: touchBlueprint(file) })
    )
    expect(launchReply.status).toBe(403)
    expect(codeOf(launchReply)).toBe("origin_not_allowed")
    expect(launchReply.headers["access-control-allow-origin"]).toBeUndefined()
    expect((await raw(server, "GET", "/v1/runs", page)).status).toBe(403)
    expect((await raw(server, "GET", "/v1/runs", { ...page, origin: "null" })).status).toBe(403)
    const op = await ScriptedOperator.login(server, { connect: false })
    const upgrade = await rawUpgrade(server, `/v1/operators/${op.sid}/ws`, { ...bearer(op.token), origin: "https://evil.example" })
    expect(upgrade.upgraded).toBe(false)
    expect(upgrade.status).toBe(403)
    const own = await raw(server, "GET", "/v1/runs", { host: `127.0.0.1:${server.port}`, origin: server.url })
    expect(own.status).toBe(200)
    await sleep(200)
    expect(existsSync(file)).toBe(false)
  })

  it("finding 1: --allow-origin lets one origin in with CORS headers (preflight too); --allow-host one name", async () => {
    const open = await startServer({ allowOrigins: ["https://ui.example"], allowHosts: ["gate.internal"] })
    try {
      const base = { host: `127.0.0.1:${open.port}` }
      const allowed = await raw(open, "GET", "/v1/runs", { ...base, origin: "https://ui.example" })
      expect(allowed.status).toBe(200)
      expect(allowed.headers["access-control-allow-origin"]).toBe("https://ui.example")
      const preflight = await raw(open, "OPTIONS", "/v1/tasks", {
        ...base,
        origin: "https://ui.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers["access-control-allow-headers"]).toContain("content-type")
      expect((await raw(open, "GET", "/v1/runs", { ...base, origin: "https://other.example" })).status).toBe(403)
      expect((await raw(open, "GET", "/v1/healthz", { host: `gate.internal:${open.port}` })).status).toBe(200)
      expect((await raw(open, "GET", "/v1/healthz", { host: "other.internal" })).status).toBe(421)
    } finally {
      await open.close()
    }
  })

  it("finding 1: with an API token the blueprint, task and run routes need it; operator and worker routes keep theirs", async () => {
    const token = "t0ken-for-the-api-0123456789"
    const guarded = await startServer({ apiToken: token })
    try {
      for (const [method, path] of [["GET", "/v1/runs"], ["GET", "/v1/tasks"], ["GET", "/v1/blueprints"]] as const) {
        const none = await request(guarded, method, path)
        expect(none.status, path).toBe(401)
        expect(envelopeCode(none)).toBe("missing_api_token")
        const wrong = await request(guarded, method, path, { headers: bearer("not-the-token-at-all") })
        expect(wrong.status).toBe(401)
        expect(envelopeCode(wrong)).toBe("bad_api_token")
        expect(wrong.text).not.toContain(token)
        expect((await request(guarded, method, path, { headers: bearer(token) })).status).toBe(200)
      }
      // seating: the session's token in Authorization, the API token beside it
      const op = await ScriptedOperator.login(guarded)
      const body = JSON.stringify({ blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
      const onlySession = await request(guarded, "POST", "/v1/tasks", {
        headers: { "content-type": "application/json", ...bearer(op.token) },
        body
      })
      expect(onlySession.status).toBe(401)
      const both = await request(guarded, "POST", "/v1/tasks", {
        headers: { "content-type": "application/json", ...bearer(op.token), "x-api-token": token },
        body
      })
      expect(both.status).toBe(202)
      await op.waitType("spawn")
      // login and the health route need no API token
      expect((await request(guarded, "GET", "/v1/healthz")).status).toBe(200)
      await op.close()
    } finally {
      await guarded.close()
    }
  })
})

describe("finding 2: nobody can push work to another operator", () => {
  it("finding 2: operator_sid without that session's token is 401, with another session's token 403; nothing is sent", async () => {
    const victim = await ScriptedOperator.login(server, { desc: "victim" })
    const other = await ScriptedOperator.login(server, { desc: "other", connect: false })
    const before = await taskCount()
    const body = JSON.stringify({ blueprint: oneStepBlueprint(), input: { steal: true }, operator_sid: victim.sid })
    const none = await request(server, "POST", "/v1/tasks", { headers: { "content-type": "application/json" }, body })
    expect(none.status).toBe(401)
    expect(envelopeCode(none)).toBe("missing_credential")
    const malformed = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json", authorization: "Basic abc" },
      body
    })
    expect(malformed.status).toBe(401)
    const foreign = await request(server, "POST", "/v1/tasks", { headers: { "content-type": "application/json", ...bearer(other.token) }, body })
    expect(foreign.status).toBe(403)
    expect(envelopeCode(foreign)).toBe("not_your_session")
    expect(foreign.text).not.toContain(other.token)
    const unknown = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json", ...bearer(other.token) },
      body: JSON.stringify({ blueprint: oneStepBlueprint(), operator_sid: "S-00000000000000000000000000000000" })
    })
    expect(unknown.status).toBe(404)
    expect(await taskCount()).toBe(before)
    // a re-run of someone's task is the same act
    const own = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: other.sid })
    const rerun = await request(server, "POST", `/v1/tasks/${own.task_id}/runs`, {
      headers: { "content-type": "application/json", ...bearer(other.token) },
      body: JSON.stringify({ operator_sid: victim.sid })
    })
    expect(rerun.status).toBe(403)
    await sleep(200)
    expect(victim.ofType("spawn")).toHaveLength(0)
    // with its own token the session seats itself
    const mine = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: victim.sid })
    const spawn = await victim.waitType("spawn")
    expect(spawn.run_id).toBe(mine.run_id)
    await victim.close()
    await other.close()
  })
})

describe("finding 3: nesting never breaks reads", () => {
  it("finding 3: a task input nested 5,000 deep is 400 too_deep and the run lists keep answering", async () => {
    const reply = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json" },
      body: `{"blueprint": ${JSON.stringify(oneStepBlueprint())}, "input": ${nested(5000)}}`
    })
    expect(reply.status).toBe(400)
    expect(envelopeCode(reply)).toBe("too_deep")
    // exactly at the limit is fine: 64 levels counting the body itself
    const ok = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json" },
      body: `{"blueprint": ${JSON.stringify(touchBlueprint(join(dir, "ok")))}, "input": ${nested(63)}}`
    })
    expect(ok.status).toBe(202)
    expect((await awaitRun(server, ok.json.run_id)).status).toBe("done")
    for (const path of ["/v1/runs", `/v1/runs/${ok.json.run_id}`, `/v1/tasks/${ok.json.task_id}`, "/v1/tasks"]) {
      expect((await request(server, "GET", path)).status, path).toBe(200)
    }
  })

  it("finding 3: a submit nested 100,000 deep is 400 too_deep and stores nothing", async () => {
    const op = await ScriptedOperator.login(server)
    const { run_id } = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")
    const deep = await submit(server, spawn.worker_handle, "[".repeat(100_000) + "]".repeat(100_000))
    expect(deep.status).toBe(400)
    expect(envelopeCode(deep)).toBe("too_deep")
    // plain text with brackets is not JSON and is accepted as text
    expect((await submit(server, spawn.worker_handle, "see [[[[x]]]] above")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, run_id)
    expect(run.steps[0].value).toBe("see [[[[x]]]] above")
    for (const path of ["/v1/runs", `/v1/runs/${run_id}`]) expect((await request(server, "GET", path)).status).toBe(200)
    await op.close()
  })

  it("finding 3: a blueprint flow nested 5,000 deep is a 400, not a 500; validation is safe at any depth", async () => {
    // built as text: the test's own JSON.stringify would overflow on it
    const leaf = `{"kind":"step","ref":"w","in":{"op":"path","at":"$"},"out":"$.out"}`
    const flowText = `{"kind":"seq","children":[`.repeat(5000) + leaf + "]}".repeat(5000)
    const text = `{"id":"deep","agents":[{"name":"w","kind":"builtin","fn":"identity"}],"flow":${flowText}}`
    const put = await request(server, "PUT", "/v1/blueprints/deep", { headers: { "content-type": "application/json" }, body: text })
    expect(put.status).toBe(400)
    expect(envelopeCode(put)).toBe("too_deep")
    const inline = await request(server, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json" },
      body: `{"blueprint":${text}}`
    })
    expect(inline.status).toBe(400)
    const blueprint = JSON.parse(text)
    // the validator itself (CLI `blueprint validate` reads files) answers a problem, not a stack overflow
    const checked = validateBlueprint(blueprint)
    expect(checked._tag === "Left" ? checked.left[0]!.message : "accepted").toContain("deeper than 64")
  })

  it("finding 3: a frame nested 10,000 deep is bad_frame and the socket keeps serving", async () => {
    const op = await ScriptedOperator.login(server)
    const mark = op.mark()
    op.send(`{"type":"answer","req_id":"x","value":${nested(10_000)}}`)
    const error = await op.waitType("error", { from: mark })
    expect(error.code).toBe("bad_frame")
    expect(error.message).toContain("deeper than 64")
    op.send({ type: "answer", req_id: "nobody", value: 1 })
    expect((await op.waitType("error", { from: mark + 1 })).code).toBe("unknown_request")
    await op.close()
  })
})

describe("finding 4: error bodies never amplify input", () => {
  it("finding 4: a 1 MiB +json body is read as JSON and answered with a small error at once", async () => {
    const started = Date.now()
    const reply = await request(server, "POST", "/v1/operators", {
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ desc: "x".repeat(1024 * 1024 - 20) })
    })
    expect(reply.status).toBe(400)
    expect(reply.text.length).toBeLessThan(4096)
    expect(Date.now() - started).toBeLessThan(3000)
    // and a good +json body works
    const ok = await request(server, "POST", "/v1/operators", {
      headers: { "content-type": "application/vnd.swarmgate+json; charset=utf-8" },
      body: JSON.stringify({ desc: "plus json" })
    })
    expect(ok.status).toBe(200)
  })

  it("finding 4: 20,000 unknown keys list 50 problems, {path, message} each, plus more", async () => {
    const body: Record<string, unknown> = { blueprint: "x" }
    for (let i = 0; i < 20_000; i++) body[`k${i}`] = i
    const reply = await request(server, "POST", "/v1/tasks", jsonBody(body))
    expect(reply.status).toBe(400)
    expect(reply.text.length).toBeLessThan(32 * 1024)
    expect(reply.json.error.details).toHaveLength(50)
    expect(reply.json.error.more).toBe(19_950)
    for (const d of reply.json.error.details) expect(Object.keys(d).sort()).toEqual(["message", "path"])
  })

  it("finding 4: an error frame never echoes more than 200 characters of a 1 MiB req_id", async () => {
    const op = await ScriptedOperator.login(server)
    // just under the 1 MiB frame limit (a larger frame closes the socket 1009)
    const huge = "r".repeat(1024 * 1024 - 200)
    let mark = op.mark()
    op.send({ type: "answer", req_id: huge, value: 1 })
    const unknown = await op.waitType("error", { from: mark })
    expect(unknown.code).toBe("unknown_request")
    expect(JSON.stringify(unknown).length).toBeLessThan(2048)
    mark = op.mark()
    op.send({ type: "hook_ack", req_id: huge })
    const bad = await op.waitType("error", { from: mark })
    expect(bad.code).toBe("bad_frame")
    expect(JSON.stringify(bad).length).toBeLessThan(2048)
    await op.close()
  })
})

describe("finding 6: raw worker routes check the credential before reading the body", () => {
  it("finding 6: a wrong handle with an 8 MiB body declared is 401 before one body byte is sent", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(server.port, "127.0.0.1")
      let text = ""
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`no answer without the body; got ${JSON.stringify(text)}`))
      }, 3000)
      socket.setEncoding("utf8")
      socket.on("data", (c: string) => {
        text += c
        if (text.includes("\r\n\r\n") && text.includes("}}")) {
          clearTimeout(timer)
          socket.destroy()
          resolve(text)
        }
      })
      socket.on("error", reject)
      socket.write(
        `POST /v1/worker/submit HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer wh-000000000000\r\n` +
          `Content-Type: text/plain\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`
      )
    })
    expect(answer).toMatch(/^HTTP\/1\.1 401/)
    expect(answer).toContain("bad_credential")
  })
})

describe("finding 7: output names cannot break reads", () => {
  it("finding 7: names with CJK, emoji, CR/LF, NUL, slashes or over 128 characters are 400; every stored output reads back", async () => {
    const op = await ScriptedOperator.login(server)
    const { run_id } = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")
    for (const name of ["報告", "report-😀", "a\r\nb", "a\u0000b", "a/b", "a b", "", "n".repeat(129)]) {
      const reply = await emit(server, spawn.worker_handle, name, "body")
      expect(reply.status, JSON.stringify(name)).toBe(400)
      expect(envelopeCode(reply)).toBe("invalid_request")
      expect(reply.json.error.details[0].path).toBe("name")
    }
    const good = await emit(server, spawn.worker_handle, "report.v2_final-1", "<html>hi</html>", { contentType: "text/html" })
    expect(good.status).toBe(200)
    for (const ref of [good.json.out_id, "report.v2_final-1"]) {
      const read = await getData(server, spawn.worker_handle, ref)
      expect(read.status).toBe(200)
      expect(read.text).toBe("<html>hi</html>")
      expect(read.headers.get("x-content-type-options")).toBe("nosniff")
    }
    const badRef = await getData(server, spawn.worker_handle, "報告")
    expect(badRef.status).toBe(400)
    op.spawnAck(spawn.req_id, { value: "done" })
    await awaitRun(server, run_id)
    await op.close()
  })
})

describe("finding 8: small things", () => {
  it("finding 8: 431 (headers too large) and other protocol refusals carry the JSON envelope", async () => {
    const big = await raw(server, "GET", "/v1/healthz", { host: `127.0.0.1:${server.port}`, "x-big": "b".repeat(64 * 1024) })
    expect(big.status).toBe(431)
    expect(codeOf(big)).toBe("headers_too_large")
    const garbage = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(server.port, "127.0.0.1")
      let text = ""
      socket.setEncoding("utf8")
      socket.on("data", (c: string) => (text += c))
      socket.on("close", () => resolve(text))
      socket.on("error", reject)
      socket.write("THIS IS NOT HTTP\r\n\r\n")
    })
    expect(garbage).toMatch(/^HTTP\/1\.1 400/)
    expect(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4)).error.code).toBe("bad_request")
  })

  it("finding 8: error.details is [{path, message}] on every route that lists problems", async () => {
    const shapes = [
      await request(server, "POST", "/v1/operators", jsonBody({ desc: 5 })),
      await request(server, "PUT", "/v1/blueprints/bad", jsonBody({ agents: 1, flow: 2 })),
      await request(server, "GET", "/v1/runs?limit=zero")
    ]
    for (const reply of shapes) {
      expect(reply.status).toBeGreaterThanOrEqual(400)
      expect(reply.json.error.details.length).toBeGreaterThan(0)
      for (const d of reply.json.error.details) {
        expect(Object.keys(d).sort(), reply.text).toEqual(["message", "path"])
        expect(typeof d.path).toBe("string")
      }
    }
  })

  it("finding 8: JSON worker routes take the 1 MiB JSON limit", async () => {
    const op = await ScriptedOperator.login(server)
    const { run_id } = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    const spawn = await op.waitType("spawn")
    for (const path of ["/v1/worker/result", "/v1/worker/ask"]) {
      const reply = await request(server, "POST", path, {
        headers: { "content-type": "application/json", ...bearer(spawn.worker_handle) },
        body: JSON.stringify({ value: "v".repeat(2 * 1024 * 1024), ok: true })
      })
      expect(reply.status, path).toBe(413)
    }
    op.spawnAck(spawn.req_id, { value: "x" })
    await awaitRun(server, run_id)
    await op.close()
  })
})

describe("finding 9: browser WebSocket auth", () => {
  const open = (path: string, protocols: Array<string> | undefined) =>
    new Promise<{ opened: boolean; protocol: string; status?: number }>((resolve, reject) => {
      const ws = new WebSocket(server.wsUrl + path, protocols)
      ws.once("open", () => {
        resolve({ opened: true, protocol: ws.protocol })
        ws.close()
      })
      ws.once("unexpected-response", (_req, res) => {
        resolve({ opened: false, protocol: "", status: res.statusCode ?? 0 })
        res.resume()
      })
      ws.once("error", reject)
    })

  it("finding 9: the token as subprotocol bearer.<token> beside swarmgate.v1 connects and is answered swarmgate.v1", async () => {
    const op = await ScriptedOperator.login(server, { connect: false })
    const ok = await open(`/v1/operators/${op.sid}/ws`, ["swarmgate.v1", `bearer.${op.token}`])
    expect(ok).toEqual({ opened: true, protocol: "swarmgate.v1" })
    const wrong = await open(`/v1/operators/${op.sid}/ws`, ["swarmgate.v1", "bearer.0123456789abcdef0123456789abcdef"])
    expect(wrong).toMatchObject({ opened: false, status: 401 })
  })

  it("finding 9: a token in the query string is refused", async () => {
    const op = await ScriptedOperator.login(server, { connect: false })
    const reply = await rawUpgrade(server, `/v1/operators/${op.sid}/ws?token=${op.token}`, {})
    expect(reply.upgraded).toBe(false)
    expect(reply.status).toBe(401)
    expect(JSON.parse(reply.body).error.code).toBe("token_in_query")
  })
})
