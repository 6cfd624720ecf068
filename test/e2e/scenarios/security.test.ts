/**
 * Scenario 7 (quality.md S1, S2): every route that takes a credential × every kind of bad
 * credential. Each answer is 401/403/404 as http-api.md specifies, never 500, always the
 * error envelope, and its body carries no id or secret the request did not carry itself
 * (so nothing of the other party: its sid, token, handle, run or step).
 *
 * The WebSocket route is probed with a raw HTTP request carrying upgrade headers, so a
 * refusal is seen as a status line and must come before any 101 (S2).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { envelopeCode, jsonBody, request, type Reply, sleep, startServer, type TestServer } from "../helpers.js"
import {
  awaitRun,
  launch,
  oneStepBlueprint,
  rawUpgrade,
  ScriptedOperator
} from "./operator-client.js"
import { artifact, type Auth, authHeaders, emit, fetchPrompt, getData, postResult, submit, workerAsk } from "./sub-agent.js"

// sessions not holding a socket expire fast here, so an expired session's token is a real one
const IDLE_HORIZON_MS = 300

let server: TestServer

interface Party {
  readonly sid: string
  readonly token: string
}

interface Ctx {
  readonly A: ScriptedOperator
  readonly B: ScriptedOperator
  /** Logged in, never connected, left idle past the horizon. */
  readonly E: Party
  readonly runA: string
  readonly runB: string
  /** A run whose seat nobody holds: the target of the acquire route. */
  readonly runC: string
  readonly stepA: string
  readonly stepB: string
  readonly handleA: string
  readonly handleB: string
  readonly tokenA: string
  readonly tokenB: string
  readonly reqA: string
  readonly outA: string
}
let ctx: Ctx

beforeAll(async () => {
  server = await startServer({ idle: { horizon: `${IDLE_HORIZON_MS} millis`, sweepEvery: "100 millis" } })
  const A = await ScriptedOperator.login(server, { desc: "party A" })
  const B = await ScriptedOperator.login(server, { desc: "party B" })
  const E = await ScriptedOperator.login(server, { desc: "expires", connect: false })
  const runA = (await launch(server, { blueprint: oneStepBlueprint({ id: "sec-a" }), input: { who: "A" }, operator_sid: A.sid })).run_id
  const runB = (await launch(server, { blueprint: oneStepBlueprint({ id: "sec-b" }), input: { who: "B" }, operator_sid: B.sid })).run_id
  const runC = (await launch(server, { blueprint: oneStepBlueprint({ id: "sec-c" }), input: { who: "C" } })).run_id
  const spawnA = await A.waitType("spawn")
  const spawnB = await B.waitType("spawn")
  const emitted = await emit(server, spawnA.worker_handle, "report-a", "secret report of A")
  if (emitted.status !== 200) throw new Error(`setup: emit failed ${emitted.status} ${emitted.text}`)
  await sleep(IDLE_HORIZON_MS + 300)
  ctx = {
    A,
    B,
    E: { sid: E.sid, token: E.token },
    runA,
    runB,
    runC,
    stepA: spawnA.task_id,
    stepB: spawnB.task_id,
    handleA: spawnA.worker_handle,
    handleB: spawnB.worker_handle,
    tokenA: spawnA.capability_token,
    tokenB: spawnB.capability_token,
    reqA: spawnA.req_id,
    outA: emitted.json.out_id
  }
})
afterAll(async () => {
  await ctx?.A.close()
  await ctx?.B.close()
  await server.close()
})

const KINDS = [
  "none",
  "no scheme",
  "basic scheme",
  "empty bearer",
  "two values",
  "wrong hex token",
  "wrong handle",
  "forged capability token",
  "another session's token",
  "another step's handle",
  "another step's capability token",
  "expired session's token",
  "valid"
] as const
type Kind = (typeof KINDS)[number]

/** What a route is called with: the credential and, for per-sid routes, whose sid. */
interface Call {
  readonly auth: Auth
  readonly target?: Party
}

interface Answer {
  readonly status: number
  readonly text: string
  /** Everything the request itself carried (path, query, body, header), for the leak check. */
  readonly sent: string
}

interface Route {
  readonly name: string
  readonly family: "operator" | "worker"
  readonly send: (call: Call) => Promise<Answer>
  /** Expected status per kind; any kind not listed is 401. `null` = not applicable, with why. */
  readonly expect: Partial<Record<Kind, number | { na: string }>>
}

const sentOf = (path: string, call: Call, body = "") => `${path} ${body} ${JSON.stringify(authHeaders(call.auth))}`
const answer = (reply: Reply, sent: string): Answer => ({ status: reply.status, text: reply.text, sent })
const operatorHeaders = (call: Call) => authHeaders(call.auth)

/** The credential a kind stands for, on a route of the given family. */
const credential = (kind: Kind, family: Route["family"]): Call => {
  const A: Party = ctx.A
  switch (kind) {
    case "none":
      return { auth: { none: true }, target: A }
    case "no scheme":
      return { auth: { header: family === "operator" ? ctx.A.token : ctx.handleA }, target: A }
    case "basic scheme":
      return { auth: { header: `Basic ${Buffer.from(`x:${family === "operator" ? ctx.A.token : ctx.handleA}`).toString("base64")}` }, target: A }
    case "empty bearer":
      return { auth: { header: "Bearer " }, target: A }
    case "two values":
      return { auth: { header: `Bearer ${family === "operator" ? ctx.A.token : ctx.handleA} extra` }, target: A }
    case "wrong hex token":
      return { auth: { bearer: randomBytes(16).toString("hex") }, target: A }
    case "wrong handle":
      return { auth: { bearer: "wh-" + "q".repeat(12) }, target: A }
    case "forged capability token":
      return { auth: { bearer: randomBytes(96).toString("base64url") }, target: A }
    case "another session's token":
      return { auth: { bearer: ctx.B.token }, target: A }
    case "another step's handle":
      return { auth: { bearer: ctx.handleB }, target: A }
    case "another step's capability token":
      return { auth: { bearer: ctx.tokenB }, target: A }
    case "expired session's token":
      return { auth: { bearer: ctx.E.token }, target: ctx.E }
    case "valid":
      return { auth: { bearer: family === "operator" ? ctx.A.token : ctx.handleA }, target: A }
  }
}

const writeRouteNA = {
  na: "a valid handle of another step acts on its own step (http-api.md: bound to exactly one step); " +
    "covered by the isolation test below"
}

const routes: Array<Route> = [
  {
    name: "GET /v1/operators",
    family: "operator",
    send: async (call) => answer(await request(server, "GET", "/v1/operators", { headers: operatorHeaders(call) }), sentOf("/v1/operators", call)),
    expect: { "another session's token": 200, valid: 200 }
  },
  {
    name: "GET /v1/operators/:sid",
    family: "operator",
    send: async (call) => {
      const path = `/v1/operators/${call.target!.sid}`
      return answer(await request(server, "GET", path, { headers: operatorHeaders(call) }), sentOf(path, call))
    },
    expect: { "expired session's token": 404, valid: 200 }
  },
  {
    name: "DELETE /v1/operators/:sid",
    family: "operator",
    send: async (call) => {
      // the valid case tears down a throwaway session, not A
      const target = call.target === ctx.A && "bearer" in call.auth && call.auth.bearer === ctx.A.token
        ? await ScriptedOperator.login(server, { connect: false })
        : call.target!
      const auth: Auth = target === call.target ? call.auth : { bearer: target.token }
      const path = `/v1/operators/${target.sid}`
      return answer(await request(server, "DELETE", path, { headers: authHeaders(auth) }), sentOf(path, { auth }))
    },
    expect: { "expired session's token": 404, valid: 204 }
  },
  {
    name: "GET /v1/operators/:sid/ws (raw upgrade request)",
    family: "operator",
    send: async (call) => {
      // the valid case upgrades a throwaway session, not A's live socket
      const target = call.target === ctx.A && "bearer" in call.auth && call.auth.bearer === ctx.A.token
        ? await ScriptedOperator.login(server, { connect: false })
        : call.target!
      const auth: Auth = target === call.target ? call.auth : { bearer: target.token }
      const path = `/v1/operators/${target.sid}/ws`
      const reply = await rawUpgrade(server, path, authHeaders(auth))
      return { status: reply.status, text: reply.body, sent: sentOf(path, { auth }) }
    },
    expect: { "expired session's token": 404, valid: 101 }
  },
  {
    name: "POST /v1/runs/:id/acquire",
    family: "operator",
    send: async (call) => {
      // valid: B takes the empty seat of run C; every other row names A (or E) as the acquiring sid
      const isValid = "bearer" in call.auth && call.auth.bearer === ctx.A.token
      const sid = isValid ? ctx.B.sid : call.target!.sid
      const auth: Auth = isValid ? { bearer: ctx.B.token } : call.auth
      const path = `/v1/runs/${ctx.runC}/acquire`
      const body = JSON.stringify({ sid, slot: "lead" })
      const reply = await request(server, "POST", path, { headers: { "content-type": "application/json", ...authHeaders(auth) }, body })
      return answer(reply, sentOf(path, { auth }, body))
    },
    // seating is an act of that session: another live session's token is 403 (http-api.md)
    expect: { "expired session's token": 404, "another session's token": 403, valid: 200 }
  },
  {
    name: "GET /v1/worker/prompt?task_id=",
    family: "worker",
    send: async (call) =>
      answer(await fetchPrompt(server, call.auth, ctx.stepA), sentOf(`/v1/worker/prompt?task_id=${ctx.stepA}`, call)),
    expect: { "another step's handle": 403, "another step's capability token": 403, valid: 200 }
  },
  {
    name: "GET /v1/worker/prompt (no task_id)",
    family: "worker",
    send: async (call) => answer(await fetchPrompt(server, call.auth), sentOf("/v1/worker/prompt", call)),
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "POST /v1/worker/submit",
    family: "worker",
    send: async (call) => answer(await submit(server, call.auth, "{\"from\": \"A\"}"), sentOf("/v1/worker/submit", call)),
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "POST /v1/worker/result",
    family: "worker",
    send: async (call) => answer(await postResult(server, call.auth, { from: "A" }, true), sentOf("/v1/worker/result", call)),
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "POST /v1/worker/artifact",
    family: "worker",
    send: async (call) =>
      answer(await artifact(server, call.auth, "notes", "part of A"), sentOf("/v1/worker/artifact?name=notes", call)),
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "POST /v1/worker/ask",
    family: "worker",
    send: async (call) => {
      const isValid = "bearer" in call.auth && call.auth.bearer === ctx.handleA
      const mark = ctx.A.mark()
      const pending = workerAsk(server, call.auth, { may: "I?" })
      if (isValid) {
        // the operator of A's seat gets the ask, nested under A's spawn, and answers it
        const ask = await ctx.A.waitType("ask", { from: mark })
        expect(ask.question).toEqual({ may: "I?" })
        expect(ask.task_id).toBe(ctx.stepA)
        expect(ask.parent_req_id).toBe(ctx.reqA)
        ctx.A.answer(ask.req_id, { go: true })
      }
      const reply = await pending
      if (isValid) expect(reply.json).toEqual({ answer: { go: true } })
      return answer(reply, sentOf("/v1/worker/ask", call))
    },
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "POST /v1/data/emit (header)",
    family: "worker",
    send: async (call) => answer(await emit(server, call.auth, "probe", "probe body"), sentOf("/v1/data/emit?name=probe", call)),
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "POST /v1/data/emit (?token=)",
    family: "worker",
    send: async (call) => {
      // the credential goes in the query; a kind with no bearer value sends no token at all
      const token = "bearer" in call.auth ? call.auth.bearer : undefined
      const path = `/v1/data/emit?name=probe${token === undefined ? "" : `&token=${encodeURIComponent(token)}`}`
      const reply = await request(server, "POST", path, { headers: { "content-type": "text/plain" }, body: "probe body" })
      return answer(reply, path)
    },
    expect: { "another step's handle": writeRouteNA, "another step's capability token": writeRouteNA, valid: 200 }
  },
  {
    name: "GET /v1/data/:out_id",
    family: "worker",
    send: async (call) => answer(await getData(server, call.auth, ctx.outA), sentOf(`/v1/data/${ctx.outA}`, call)),
    // an operator token reads any output (http-api.md: "or an operator token")
    expect: { "another session's token": 200, "another step's handle": 403, "another step's capability token": 403, valid: 200 }
  },
  {
    name: "GET /v1/data/:name",
    family: "worker",
    send: async (call) => answer(await getData(server, call.auth, "report-a"), sentOf("/v1/data/report-a", call)),
    // a name resolves inside the credential's own run: run B has no output of that name
    expect: { "another session's token": 200, "another step's handle": 404, "another step's capability token": 404, valid: 200 }
  }
]

/** Every id and secret of the test's parties. */
const secrets = (): Array<string> => [
  ctx.A.sid, ctx.A.token, ctx.B.sid, ctx.B.token, ctx.E.sid, ctx.E.token,
  ctx.runA, ctx.runB, ctx.runC, ctx.stepA, ctx.stepB,
  ctx.handleA, ctx.handleB, ctx.tokenA, ctx.tokenB, ctx.reqA, ctx.outA
]

describe("scenario 7: security matrix (S1, S2)", () => {
  for (const route of routes) {
    describe(route.name, () => {
      for (const kind of KINDS) {
        const expected = route.expect[kind] ?? 401
        if (typeof expected === "object") continue // not applicable; see `writeRouteNA`
        it(`${kind} → ${expected}`, async () => {
          const call = credential(kind, route.family)
          const reply = await route.send(call)
          const where = `${route.name} × ${kind}: ${reply.status} ${reply.text}`
          expect(reply.status, where).not.toBe(500)
          expect(reply.status, where).toBe(expected)
          if (expected >= 400) {
            const parsed: Reply = { status: reply.status, headers: new Headers(), text: reply.text, json: safeJson(reply.text) }
            const code = envelopeCode(parsed)
            if (expected === 401 && route.family === "operator") {
              expect(["missing_credential", "malformed_credential", "bad_credential"], where).toContain(code)
            }
            if (kind === "none") expect(code, where).toBe("missing_credential")
            // nothing the request did not carry itself comes back
            for (const s of secrets()) {
              if (!reply.sent.includes(s)) expect(reply.text.includes(s), `${where} leaks ${s}`).toBe(false)
            }
          }
        })
      }
    })
  }

  it("the upgrade route never switches protocols for a refused credential (S2)", async () => {
    for (const kind of KINDS.filter((k) => k !== "valid")) {
      const call = credential(kind, "operator")
      const reply = await rawUpgrade(server, `/v1/operators/${call.target!.sid}/ws`, authHeaders(call.auth))
      expect(reply.upgraded, kind).toBe(false)
      expect([401, 404], `${kind}: ${reply.status}`).toContain(reply.status)
    }
    // and A's live socket was never disturbed by any of the probes
    expect(ctx.A.ws.readyState).toBe(ctx.A.ws.OPEN)
    expect(ctx.A.connectionCount).toBe(1)
  })

  it("a handle is bound to its own step: B's submit lands in B, never in A", async () => {
    // its own two runs, so that the matrix rows (which use runs A and B) do not depend on running before this
    const markA = ctx.A.mark()
    const markB = ctx.B.mark()
    const runA = (await launch(server, { blueprint: oneStepBlueprint({ id: "sec-own-a" }), input: { who: "A" }, operator_sid: ctx.A.sid })).run_id
    const runB = (await launch(server, { blueprint: oneStepBlueprint({ id: "sec-own-b" }), input: { who: "B" }, operator_sid: ctx.B.sid })).run_id
    const spawnA = await ctx.A.waitType("spawn", { from: markA })
    const spawnB = await ctx.B.waitType("spawn", { from: markB })
    const fromB = await submit(server, spawnB.worker_handle, "{\"from\": \"B\"}")
    expect(fromB.status, fromB.text).toBe(200)
    expect(fromB.json.task_id).toBe(spawnB.task_id)
    const promptB = await fetchPrompt(server, spawnB.worker_handle)
    expect(promptB.json).toMatchObject({ task_id: spawnB.task_id, run_id: runB, prompt: { who: "B" } })
    expect((await submit(server, spawnA.worker_handle, "{\"from\": \"A\"}")).status).toBe(200)

    ctx.A.spawnAck(spawnA.req_id)
    ctx.B.spawnAck(spawnB.req_id)
    const doneA = await awaitRun(server, runA)
    const doneB = await awaitRun(server, runB)
    expect(doneA.status).toBe("done")
    expect(doneB.status).toBe("done")
    expect(doneA.result.answer).toEqual({ from: "A" })
    expect(doneB.result.answer).toEqual({ from: "B" })
  })

  it("operator credentials never open the worker routes and worker credentials never open operator routes", async () => {
    const login = await request(server, "POST", "/v1/operators", jsonBody({}))
    expect(login.status).toBe(200)
    const a = await request(server, "GET", `/v1/operators/${ctx.A.sid}`, { headers: { authorization: `Bearer ${ctx.handleA}` } })
    expect(a.status).toBe(401)
    const w = await fetchPrompt(server, ctx.A.token)
    expect(w.status).toBe(401)
    envelopeCode(w)
  })
})

describe("scenario 7b: expired worker credentials (worker token TTL 300 ms)", () => {
  const TTL_MS = 300
  let short: TestServer
  let op: ScriptedOperator
  let spawn: any
  let outId: string
  beforeAll(async () => {
    short = await startServer({}, { workerTokenTtl: `${TTL_MS} millis` })
    op = await ScriptedOperator.login(short)
    await launch(short, { blueprint: oneStepBlueprint(), input: { who: "X" }, operator_sid: op.sid })
    spawn = await op.waitType("spawn")
    // fresh: works
    const fresh = await fetchPrompt(short, spawn.worker_handle, spawn.task_id)
    if (fresh.status !== 200) throw new Error(`setup: fresh handle refused ${fresh.status} ${fresh.text}`)
    const emitted = await emit(short, spawn.worker_handle, "early", "emitted while fresh")
    if (emitted.status !== 200) throw new Error(`setup: emit failed ${emitted.status} ${emitted.text}`)
    outId = emitted.json.out_id
    await sleep(TTL_MS + 200)
  })
  afterAll(async () => {
    await op?.close()
    await short?.close()
  })

  const calls: Array<[string, (cred: string) => Promise<Reply>]> = [
    ["GET /v1/worker/prompt?task_id=", (c) => fetchPrompt(short, c, spawn.task_id)],
    ["GET /v1/worker/prompt", (c) => fetchPrompt(short, c)],
    ["POST /v1/worker/submit", (c) => submit(short, c, "late")],
    ["POST /v1/worker/result", (c) => postResult(short, c, "late", true)],
    ["POST /v1/worker/artifact", (c) => artifact(short, c, "p", "late")],
    ["POST /v1/worker/ask", (c) => workerAsk(short, c, "late?")],
    ["POST /v1/data/emit (header)", (c) => emit(short, c, "late", "late")],
    ["POST /v1/data/emit (?token=)", (c) => emit(short, c, "late", "late", { viaQuery: true })],
    ["GET /v1/data/:out_id", (c) => getData(short, c, outId)],
    ["GET /v1/data/:name", (c) => getData(short, c, "early")]
  ]
  for (const [name, call] of calls) {
    for (const which of ["handle", "capability token"] as const) {
      it(`${name} × expired ${which} → 401`, async () => {
        const cred: string = which === "handle" ? spawn.worker_handle : spawn.capability_token
        const reply = await call(cred)
        const where = `${name} × expired ${which}: ${reply.status} ${reply.text}`
        expect(reply.status, where).toBe(401)
        envelopeCode(reply)
        for (const s of [op.sid, op.token, spawn.run_id, spawn.req_id, outId]) {
          expect(reply.text.includes(s), `${where} leaks ${s}`).toBe(false)
        }
        // an expired credential is not echoed back either (it was sent, but a body is no place for it)
        expect(reply.text.includes(spawn.capability_token), where).toBe(false)
      })
    }
  }

  it("nothing the expired credentials sent changed the step", async () => {
    const info = await request(short, "GET", `/v1/operators/${op.sid}`, { headers: { authorization: `Bearer ${op.token}` } })
    expect(info.json.pending.map((p: any) => p.req_id)).toEqual([spawn.req_id])
    op.spawnAck(spawn.req_id, { value: "from the ack" })
    const run = await awaitRun(short, spawn.run_id)
    // no submit was accepted, so the value is the spawn_ack's (operator.ts: without a submit it is the ack value)
    expect(JSON.stringify(run.result)).not.toContain("late")
  })
})

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
