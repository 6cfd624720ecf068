import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { request as httpRequest } from "node:http"
import {
  bearer,
  envelopeCode,
  jsonBody,
  login,
  request,
  startServer,
  type TestServer
} from "./helpers.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

/** A raw node:http request, so an early 413 can be read while the body is still going out. */
const rawPost = (path: string, options: { body: Buffer; chunked: boolean }) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(server.url + path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(options.chunked ? {} : { "content-length": String(options.body.length) })
      }
    })
    req.on("response", (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    // the server may close while we are still writing; the response is what counts
    req.on("error", (error) => setTimeout(() => reject(error), 500))
    if (options.chunked) {
      const piece = 64 * 1024
      for (let at = 0; at < options.body.length; at += piece) req.write(options.body.subarray(at, at + piece))
      req.end()
    } else {
      req.end(options.body)
    }
  })

describe("health", () => {
  it("GET /v1/healthz answers ok and the package version", async () => {
    const reply = await request(server, "GET", "/v1/healthz")
    expect(reply.status).toBe(200)
    expect(reply.json).toEqual({ ok: true, version: "0.1.0" })
  })

  it("GET /v1/status counts sessions, connected sessions and pending requests", async () => {
    await login(server, "status probe")
    const reply = await request(server, "GET", "/v1/status")
    expect(reply.status).toBe(200)
    // last_sweep_at appears once the periodic sweep has run
    expect(Object.keys(reply.json).filter((k) => k !== "last_sweep_at").sort()).toEqual(
      ["connected_sessions", "pending_requests", "running_runs", "session_idle_secs", "sessions", "storage", "sweep_every_secs",
        "uptime_secs"]
    )
    expect(reply.json.storage).toBe("memory")
    expect(reply.json.running_runs).toBe(0)
    expect(reply.json.sessions).toBeGreaterThanOrEqual(1)
    expect(Number.isInteger(reply.json.uptime_secs)).toBe(true)
  })
})

describe("error envelope", () => {
  it("an unknown route is a 404 envelope", async () => {
    for (const path of ["/nope", "/v1/nope", "/v1/operators/S-x/ws/extra"]) {
      const reply = await request(server, "GET", path)
      expect(reply.status).toBe(404)
      expect(envelopeCode(reply)).toBe("not_found")
    }
  })

  it("a known path with a wrong method is a 405 envelope with Allow", async () => {
    const reply = await request(server, "PUT", "/v1/healthz")
    expect(reply.status).toBe(405)
    expect(envelopeCode(reply)).toBe("method_not_allowed")
    expect(reply.headers.get("allow")).toContain("GET")
    const onSid = await request(server, "POST", "/v1/operators/S-abc")
    expect(onSid.status).toBe(405)
    expect(onSid.headers.get("allow")).toContain("DELETE")
  })

  it("a body that is not JSON is a 400 envelope", async () => {
    const reply = await request(server, "POST", "/v1/operators", {
      headers: { "content-type": "application/json" },
      body: "{\"desc\": "
    })
    expect(reply.status).toBe(400)
    expect(envelopeCode(reply)).toBe("invalid_json")
  })

  it("a body of the wrong shape is a 400 envelope naming the field", async () => {
    const reply = await request(server, "POST", "/v1/operators", jsonBody({ desc: 5 }))
    expect(reply.status).toBe(400)
    expect(envelopeCode(reply)).toBe("invalid_request")
    expect(reply.json.error.message).toContain("desc")
    const array = await request(server, "POST", "/v1/operators", jsonBody([1, 2]))
    expect(array.status).toBe(400)
    expect(envelopeCode(array)).toBe("invalid_request")
  })

  it("a non-JSON content type is a 415 envelope", async () => {
    const reply = await request(server, "POST", "/v1/operators", {
      headers: { "content-type": "text/plain" },
      body: "{\"desc\":\"x\"}"
    })
    expect(reply.status).toBe(415)
    expect(envelopeCode(reply)).toBe("unsupported_media_type")
  })

  it("a JSON body over 1 MiB is a 413 envelope, refused from Content-Length", async () => {
    const body = Buffer.from(JSON.stringify({ desc: "x".repeat(2 * 1024 * 1024) }))
    const reply = await rawPost("/v1/operators", { body, chunked: false })
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.body).error.code).toBe("payload_too_large")
  })

  it("a chunked JSON body over 1 MiB is a 413 envelope once the count passes the limit", async () => {
    const body = Buffer.from(JSON.stringify({ desc: "x".repeat(2 * 1024 * 1024) }))
    const reply = await rawPost("/v1/operators", { body, chunked: true })
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.body).error.code).toBe("payload_too_large")
    // and the server still serves
    expect((await request(server, "GET", "/v1/healthz")).status).toBe(200)
  })
})

describe("operator sessions", () => {
  it("login, list, info and delete", async () => {
    const { sid, token } = await login(server, "  my laptop  ")
    expect(sid).toMatch(/^S-[0-9a-f]{32}$/)
    expect(token).toMatch(/^[0-9a-f]{32}$/)

    const list = await request(server, "GET", "/v1/operators", { headers: bearer(token) })
    expect(list.status).toBe(200)
    expect(list.json.total).toBe(list.json.operators.length)
    const row = list.json.operators.find((o: any) => o.sid === sid)
    expect(row).toMatchObject({ sid, desc: "my laptop", connected: false, pending: 0 })
    expect(new Date(row.joined_at).toISOString()).toBe(row.joined_at)
    expect(JSON.stringify(list.json)).not.toContain(token)

    const info = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(info.status).toBe(200)
    expect(info.json).toMatchObject({ sid, desc: "my laptop", connected: false, pending: [] })
    expect(Date.parse(info.json.last_access)).toBeGreaterThanOrEqual(Date.parse(info.json.joined_at))

    const deleted = await request(server, "DELETE", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(deleted.status).toBe(204)
    expect(deleted.text).toBe("")

    const after = await request(server, "GET", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(after.status).toBe(404)
    expect(envelopeCode(after)).toBe("unknown_session")
    const again = await request(server, "DELETE", `/v1/operators/${sid}`, { headers: bearer(token) })
    expect(again.status).toBe(404)
  })

  it("login without a body works and has no desc", async () => {
    const reply = await request(server, "POST", "/v1/operators")
    expect(reply.status).toBe(200)
    const info = await request(server, "GET", `/v1/operators/${reply.json.sid}`, { headers: bearer(reply.json.token) })
    expect(info.json.desc).toBeNull()
  })

  it("desc: blank means absent, over 200 characters is a 400 envelope", async () => {
    const blank = await login(server, "   ")
    const info = await request(server, "GET", `/v1/operators/${blank.sid}`, { headers: bearer(blank.token) })
    expect(info.json.desc).toBeNull()

    const exactly = await request(server, "POST", "/v1/operators", jsonBody({ desc: ` ${"d".repeat(200)} ` }))
    expect(exactly.status).toBe(200)

    const long = await request(server, "POST", "/v1/operators", jsonBody({ desc: "d".repeat(201) }))
    expect(long.status).toBe(400)
    expect(envelopeCode(long)).toBe("invalid_request")
    expect(long.json.error.message).toContain("desc")
    expect(long.json.error.message).toContain("200")
  })
})

describe("S1: operator routes refuse bad credentials and reveal nothing", () => {
  it("no credential, malformed header, wrong token, another session's token", async () => {
    const mine = await login(server, "mine")
    const other = await login(server, "other: secret desc")
    const cases: Array<[string, Record<string, string>]> = [
      ["missing_credential", {}],
      ["malformed_credential", { authorization: `Basic ${mine.token}` }],
      ["malformed_credential", { authorization: "Bearer" }],
      ["malformed_credential", { authorization: `Bearer ${mine.token} extra` }],
      ["bad_credential", bearer("0".repeat(32))],
      ["bad_credential", bearer(other.token)]
    ]
    for (const [code, headers] of cases) {
      for (const method of ["GET", "DELETE"]) {
        const reply = await request(server, method, `/v1/operators/${mine.sid}`, { headers })
        expect(reply.status, `${method} ${code}`).toBe(401)
        expect(envelopeCode(reply)).toBe(code)
        expect(reply.text).not.toContain(other.sid)
        expect(reply.text).not.toContain(other.token)
        expect(reply.text).not.toContain("secret desc")
      }
      if (code !== "bad_credential" || headers.authorization === bearer("0".repeat(32)).authorization) {
        const list = await request(server, "GET", "/v1/operators", { headers })
        expect(list.status, `list ${code}`).toBe(401)
        expect(envelopeCode(list)).toBe(code)
      }
    }
    // another session's token is a live token: the list accepts it (http-api.md)
    expect((await request(server, "GET", "/v1/operators", { headers: bearer(other.token) })).status).toBe(200)
    // the session survived every refused DELETE
    expect((await request(server, "GET", `/v1/operators/${mine.sid}`, { headers: bearer(mine.token) })).status)
      .toBe(200)
  })

  it("an unknown sid is 404 whatever the token; never 500", async () => {
    const mine = await login(server)
    for (const sid of ["S-" + "0".repeat(32), "not-a-sid", "%20"]) {
      for (const method of ["GET", "DELETE"]) {
        const reply = await request(server, method, `/v1/operators/${sid}`, { headers: bearer(mine.token) })
        expect(reply.status).toBe(404)
        expect(envelopeCode(reply)).toBe("unknown_session")
      }
    }
  })
})

describe("odd paths", () => {
  it("a path that is not valid percent-encoding is a 400 envelope, not a 405", async () => {
    const reply = await request(server, "GET", "/v1/operators/%ZZ")
    expect(reply.status).toBe(400)
    expect(envelopeCode(reply)).toBe("invalid_path")
  })
})
