/**
 * The lean worker path's contract (docs/performance.md, "The lean worker path"): two servers
 * started as users start them, one with the lean path (the default) and one with
 * SWARMGATE_LEAN_WORKER=0, get every worker-route case; each answer has the expected status,
 * and status, headers and body (ids normalised) are the same on both.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { request as httpRequest } from "node:http"
import { start, waitFor } from "./cli-helpers.js"
import { bearer, connect, login, request, type TestServer } from "./helpers.js"
import { handOut, type HandedOut, spawnAck, waitRun } from "./routes-fixtures.js"

interface Served extends TestServer {
  readonly stopped: () => Promise<{ readonly code: number | null }>
}

const serve = async (env: Record<string, string>, args: ReadonlyArray<string> = []): Promise<Served> => {
  const running = start(["serve", "--memory", "--port", "0", ...args], env)
  const match = await waitFor(() => running.stdout() + running.stderr(), /listening on http:\/\/127\.0\.0\.1:(\d+)/, running)
  const port = Number(match[1])
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    stopped: () => {
      running.child.kill("SIGTERM")
      return running.exit
    }
  } as unknown as Served
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, unknown>
  readonly body: string
}

interface Send {
  readonly headers?: Record<string, string>
  readonly body?: string
  /** Declare this Content-Length and send only 1 KiB of it. */
  readonly declared?: number
  /** Send this many bytes chunked, without a length. */
  readonly streamed?: number
}

/** One request on a fresh connection, headers exactly as given (node:http adds only Host and Connection). */
const send = (server: TestServer, method: string, path: string, options: Send = {}) =>
  new Promise<Answer>((resolve, reject) => {
    let answered = false
    const req = httpRequest(server.url + path, {
      method,
      agent: false,
      headers: { ...options.headers, ...(options.declared === undefined ? {} : { "content-length": String(options.declared) }) }
    })
    req.on("response", (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => {
        answered = true
        const { date: _date, ...headers } = res.headers
        req.destroy()
        resolve({ status: res.statusCode ?? 0, headers, body })
      })
    })
    // a 413 may close the connection while we still write: only a missing answer is an error
    req.on("error", (e) => setTimeout(() => answered || reject(e), 500))
    if (options.declared !== undefined) req.write(Buffer.alloc(1024, 0x61))
    else if (options.streamed !== undefined) {
      const piece = Buffer.alloc(64 * 1024, 0x20)
      for (let sent = 0; sent < options.streamed; sent += piece.length) req.write(piece)
      req.end()
    } else req.end(options.body)
  })

// ids differ between the two servers; everything else must not
const normal = (text: string) =>
  text.replace(/\b(ST|R|T|S)-[0-9A-Za-z_-]+/g, "$1-*").replace(/wh-[a-z0-9]{12}/g, "wh-*")
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>")

const json = (credential: string) => ({ ...bearer(credential), "content-type": "application/json" })
const text = (credential: string) => ({ ...bearer(credential), "content-type": "text/plain" })
const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) })

const finished = async (server: TestServer, out: HandedOut) => {
  spawnAck(out)
  await waitRun(server, out.run_id)
  return out
}

let lean: Served
let platform: Served
beforeAll(async () => {
  ;[lean, platform] = await Promise.all([serve({}), serve({ SWARMGATE_LEAN_WORKER: "0" })])
}, 120_000)
afterAll(async () => {
  await Promise.all([lean?.stopped(), platform?.stopped()])
})

/** Runs `scenario` on both servers; the expected status, then the same answer on both. */
const same = async (status: number, scenario: (server: Served) => Promise<Answer>) => {
  const [a, b] = await Promise.all([scenario(lean), scenario(platform)])
  expect(a.status, a.body).toBe(status)
  expect({ ...a, body: normal(a.body) }).toEqual({ ...b, body: normal(b.body) })
  return a
}

/** A step handed out on `server`, then `scenario` with it; the operator's socket closed after. */
const withStep = (scenario: (server: Served, out: HandedOut) => Promise<Answer>) => async (server: Served) => {
  const out = await handOut(server)
  try {
    return await scenario(server, out)
  } finally {
    out.client.close()
  }
}

const code = (a: Answer) => JSON.parse(a.body).error.code as string

describe("each worker route succeeding", () => {
  it("prompt by handle (with its task_id) and by capability token", async () => {
    await same(200, withStep((s, o) => send(s, "GET", `/v1/worker/prompt?task_id=${o.step}`, { headers: bearer(o.handle) })))
    await same(200, withStep((s, o) => send(s, "GET", "/v1/worker/prompt", { headers: bearer(o.capability) })))
  })
  it("submit (text, verdict, ok), result, artifact", async () => {
    await same(200, withStep((s, o) => send(s, "POST", "/v1/worker/submit", { headers: text(o.handle), body: " done " })))
    await same(200, withStep((s, o) => send(s, "POST", "/v1/worker/submit?verdict=skip", { headers: bearer(o.handle), body: "{\"x\":1}" })))
    await same(200, withStep((s, o) => send(s, "POST", "/v1/worker/submit?ok=false", { headers: text(o.handle), body: "no" })))
    await same(200, withStep((s, o) => send(s, "POST", "/v1/worker/result", { headers: json(o.handle), body: "{\"value\":[1],\"ok\":true}" })))
    await same(200, withStep((s, o) => send(s, "POST", "/v1/worker/artifact?name=log", { headers: text(o.capability), body: "lines" })))
  })
  it("ask answered by the operator", async () => {
    await same(200, withStep(async (s, o) => {
      const pending = send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: "{\"question\":{\"pick\":[1,2]}}" })
      const frame = await o.client.waitFor((f) => f.type === "ask")
      o.client.send({ type: "answer", req_id: frame.req_id, value: { picked: 2 } })
      return pending
    }))
  })
})

describe("credentials", () => {
  it("missing, malformed, unknown and forged credentials are the same 401s", async () => {
    for (const route of [["GET", "/v1/worker/prompt"], ["POST", "/v1/worker/ask"], ["POST", "/v1/worker/submit"]] as const) {
      const a = await same(401, (s) => send(s, route[0], route[1], { headers: { "content-type": "application/json" }, body: "{}" }))
      expect(code(a)).toBe("missing_credential")
      await same(401, (s) => send(s, route[0], route[1], { headers: { authorization: "wh-aaaaaaaaaaaa" } }))
      await same(401, (s) => send(s, route[0], route[1], { headers: json("wh-aaaaaaaaaaaa"), body: "{\"question\":1}" }))
    }
    await same(401, withStep((s, o) => send(s, "POST", "/v1/worker/result", { headers: json(o.capability.slice(0, -4) + "AAAA"), body: "{}" })))
  })
  it("a task_id of another step is 403 wrong_step", async () => {
    const a = await same(403, async (s) => {
      const [one, two] = await Promise.all([handOut(s), handOut(s)])
      const reply = await send(s, "GET", `/v1/worker/prompt?task_id=${two.step}`, { headers: bearer(one.handle) })
      one.client.close()
      two.client.close()
      return reply
    })
    expect(code(a)).toBe("wrong_step")
  })
})

describe("bodies", () => {
  it("bad JSON, wrong content type, too deep, payload not matching the schema", async () => {
    expect(code(await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: "{nope" }))))).toBe("invalid_json")
    expect(code(await same(415, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: text(o.handle), body: "{}" }))))).toBe("unsupported_media_type")
    const nested = JSON.stringify({ question: deep(200) })
    expect(code(await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: nested }))))).toBe("too_deep")
    expect(code(await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/submit", { headers: text(o.handle), body: JSON.stringify(deep(200)) }))))).toBe("too_deep")
    for (const body of ["{}", "{\"question\":1,\"urgent\":true}", "[1]", "null", ""]) {
      expect(code(await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body }))))).toBe("invalid_request")
    }
    await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/result", { headers: bearer(o.handle) })))
    await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/result", { headers: json(o.handle), body: "{\"value\":1,\"ok\":\"yes\"}" })))
  })
  it("too large, declared and streamed", async () => {
    const mib = 1024 * 1024
    expect(code(await same(413, withStep((s, o) => send(s, "POST", "/v1/worker/submit", { headers: text(o.handle), declared: 16 * mib + 1 }))))).toBe("payload_too_large")
    await same(413, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), declared: mib + 1 })))
    await same(413, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), streamed: mib + 128 * 1024 })))
    await same(413, withStep((s, o) => send(s, "POST", "/v1/worker/result", { headers: json(o.handle), streamed: 2 * mib })))
  })
  it("bad verdict or ok, a missing or empty artifact name", async () => {
    await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/submit?verdict=maybe", { headers: text(o.handle), body: "x" })))
    await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/submit?ok=perhaps", { headers: text(o.handle), body: "x" })))
    await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/artifact", { headers: text(o.handle), body: "x" })))
    await same(400, withStep((s, o) => send(s, "POST", "/v1/worker/artifact?name=", { headers: text(o.handle), body: "x" })))
  })
})

describe("step states", () => {
  it("a second submit is 409; a finished step is 410 on every route", async () => {
    const again = await same(409, withStep(async (s, o) => {
      await send(s, "POST", "/v1/worker/submit", { headers: text(o.handle), body: "one" })
      return send(s, "POST", "/v1/worker/submit", { headers: text(o.handle), body: "two" })
    }))
    expect(code(again)).toBe("already_submitted")
    const gone = (go: (s: Served, o: HandedOut) => Promise<Answer>) =>
      same(410, withStep(async (s, o) => go(s, await finished(s, o))))
    await gone((s, o) => send(s, "GET", "/v1/worker/prompt", { headers: bearer(o.handle) }))
    await gone((s, o) => send(s, "POST", "/v1/worker/submit", { headers: text(o.handle), body: "late" }))
    await gone((s, o) => send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: "{\"question\":1}" }))
    await gone((s, o) => send(s, "POST", "/v1/worker/artifact?name=a", { headers: text(o.handle), body: "late" }))
  })
  it("a credential from before a take-over is 409 superseded", async () => {
    const a = await same(409, withStep(async (s, o) => {
      const b = await login(s, "taker")
      const client = await connect(s, b.sid, b.token)
      const taken = await request(s, "POST", `/v1/runs/${o.run_id}/acquire`, {
        headers: json(b.token),
        body: JSON.stringify({ sid: b.sid, slot: "main" })
      })
      expect(taken.status, taken.text).toBe(200)
      const reply = await send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: "{\"question\":1}" })
      client.close()
      return reply
    }))
    expect(code(a)).toBe("superseded")
  })
  it("an ask withdrawn by a cancelled run is 409 ask_failed", async () => {
    const a = await same(409, withStep(async (s, o) => {
      const pending = send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: "{\"question\":1}" })
      await o.client.waitFor((f) => f.type === "ask")
      await request(s, "POST", `/v1/runs/${o.run_id}/cancel`)
      return pending
    }))
    expect(code(a)).toBe("ask_failed")
  })
  it("an ask whose client goes away is withdrawn: the operator gets its cancel", async () => {
    for (const s of [lean, platform]) {
      const o = await handOut(s)
      const req = httpRequest(s.url + "/v1/worker/ask", { method: "POST", agent: false, headers: json(o.handle) })
      req.on("error", () => {})
      req.end("{\"question\":\"still there?\"}")
      const frame = await o.client.waitFor((f) => f.type === "ask")
      req.destroy()
      await o.client.waitFor((f) => f.type === "cancel" && f.req_id === frame.req_id)
      o.client.close()
    }
  })
})

describe("what the platform refuses before any body", () => {
  it("wrong method, unknown worker path, Host and Origin refused", async () => {
    expect((await same(405, (s) => send(s, "GET", "/v1/worker/ask"))).headers["allow"]).toBe("POST")
    await same(405, (s) => send(s, "PUT", "/v1/worker/submit", { headers: text("wh-aaaaaaaaaaaa"), body: "x" }))
    await same(404, (s) => send(s, "POST", "/v1/worker/asks", { headers: json("wh-aaaaaaaaaaaa"), body: "{}" }))
    await same(421, withStep((s, o) => send(s, "GET", "/v1/worker/prompt", { headers: { ...bearer(o.handle), host: "evil.example" } })))
    await same(403, withStep((s, o) => send(s, "POST", "/v1/worker/ask", { headers: { ...json(o.handle), origin: "https://evil.example" }, body: "{\"question\":1}" })))
  })
})

describe("an expired credential", () => {
  let a: Served
  let b: Served
  beforeAll(async () => {
    ;[a, b] = await Promise.all([
      serve({}, ["--worker-token-ttl", "1 second"]),
      serve({ SWARMGATE_LEAN_WORKER: "0" }, ["--worker-token-ttl", "1 second"])
    ])
  }, 120_000)
  afterAll(async () => {
    await Promise.all([a?.stopped(), b?.stopped()])
  })
  it("is the same 401 credential_expired", async () => {
    const [x, y] = await Promise.all([handOut(a), handOut(b)])
    await new Promise((resolve) => setTimeout(resolve, 1200))
    const [ra, rb] = await Promise.all([
      send(a, "POST", "/v1/worker/ask", { headers: json(x.handle), body: "{\"question\":1}" }),
      send(b, "POST", "/v1/worker/ask", { headers: json(y.handle), body: "{\"question\":1}" })
    ])
    expect(ra.status).toBe(401)
    expect(code(ra)).toBe("credential_expired")
    expect({ ...ra, body: normal(ra.body) }).toEqual({ ...rb, body: normal(rb.body) })
    x.client.close()
    y.client.close()
  })
})

describe("shutdown", () => {
  it("an ask in flight ends with the server on both paths, which exit 0 within 5 s", { timeout: 120_000 }, async () => {
    const pair = await Promise.all([serve({}), serve({ SWARMGATE_LEAN_WORKER: "0" })])
    const outcomes = await Promise.all(pair.map(async (s) => {
      const o = await handOut(s)
      const pending = send(s, "POST", "/v1/worker/ask", { headers: json(o.handle), body: "{\"question\":1}" }).then(
        (a) => `${a.status} ${code(a)}`,
        (e: NodeJS.ErrnoException) => `cut (${e.code})`
      )
      await o.client.waitFor((f) => f.type === "ask")
      const t0 = Date.now()
      const exit = await s.stopped()
      return { exit: exit.code, fast: Date.now() - t0 < 5_000, answer: await pending }
    }))
    expect(outcomes[0]).toMatchObject({ exit: 0, fast: true })
    expect(outcomes[0]).toEqual(outcomes[1])
  })
})
