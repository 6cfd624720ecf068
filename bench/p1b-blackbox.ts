/**
 * P1b operator round trip, black box: a sub-agent's `POST /v1/worker/ask` →
 * `ask` frame → `answer` → HTTP answer, against the server started as a user starts it
 * (`node bin/swarmgate.mjs serve`, its own process). Contenders, each in its own process
 * and driven by the same client process: limit = bare `node:http` + `ws` relay; peer =
 * Express 5 + socket.io 4 `emitWithAck` relay.
 */
import { type LoadResult, runTrials, type TrialRow } from "./load.js"
import { type Client, type ServerProcess, startClient, startServerProcess } from "./children.js"
import { type Bench, type Log, type Section, SMOKE, type Target } from "./suite.js"
import { int, ms, ratio, sleep, table } from "./table.js"

const CONTENDERS = ["swarmgate", "peer", "limit"] as const
type Contender = (typeof CONTENDERS)[number]

const cases = SMOKE
  ? [{ inFlight: 4, total: 40, maxMs: 2_000, trials: 1 }, { inFlight: 1, total: 10, maxMs: 1_000, trials: 1 }]
  : [{ inFlight: 64, total: 30_000, maxMs: 3_000, trials: 3 }, { inFlight: 1, total: 3_000, maxMs: 2_000, trials: 1 }]
const warmup = SMOKE ? [] : [{ inFlight: 64, total: 10_000, maxMs: 2_000 }, { inFlight: 1, total: 500, maxMs: 1_000 }]

export const P1B_TARGETS = { peer: 1.2, limit: 0.4, p50VsPeer: 1.5 }

const oneStep = {
  id: "bench-p1b",
  operators: [{ name: "lead" }],
  agents: [{ name: "worker", kind: "operator", operator: "lead" }],
  flow: { kind: "step", ref: "worker", in: { op: "path", at: "$" }, out: "$.answer" }
}

const post = async (url: string, body: unknown, token?: string) => {
  const headers: Record<string, string> = { "content-type": "application/json" }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const reply = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) })
  const text = await reply.text()
  if (reply.status >= 300) throw new Error(`POST ${url}: ${reply.status} ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

/**
 * Log in an operator, connect it from the client as `id`, start a one-step run; the worker
 * handle of the spawn that run sends (the client may already hold other servers' spawns).
 */
export const prepareSwarmgate = async (server: ServerProcess, client: Client, id = "swarmgate"): Promise<string> => {
  const spawnsOf = async () => (await client.call<{ spawns: Array<{ worker_handle: string }> }>("spawns")).spawns
  const before = (await spawnsOf()).length
  const { sid, token } = (await post(`${server.url}/v1/operators`, { desc: "bench p1b" })) as { sid: string; token: string }
  await client.call("connect", {
    id,
    url: `ws://127.0.0.1:${server.port}/v1/operators/${sid}/ws`,
    headers: { authorization: `Bearer ${token}` }
  })
  await post(`${server.url}/v1/tasks`, { blueprint: oneStep, input: { q: "bench" }, operator_sid: sid }, token)
  for (let i = 0; i < 500; i++) {
    const spawns = await spawnsOf()
    if (spawns.length > before) return spawns[before]!.worker_handle
    await sleep(10)
  }
  throw new Error(`${id}: no spawn frame within 5 s`)
}

export const runP1b = async (log: Log): Promise<Section> => {
  const client = await startClient(log)
  const servers: Partial<Record<Contender, ServerProcess>> = {}
  try {
    servers.swarmgate = await startServerProcess(["bin/swarmgate.mjs", "serve", "--memory", "--port", "0"])
    servers.limit = await startServerProcess(["bench/relays/bare-relay.mjs"])
    servers.peer = await startServerProcess(["bench/relays/express-relay.mjs"])
    const handle = await prepareSwarmgate(servers.swarmgate, client)
    await client.call("connect", { id: "limit", url: `ws://127.0.0.1:${servers.limit.port}/ws` })
    await client.call("connect", { id: "peer", url: servers.peer.url, kind: "sio" })
    await sleep(50)
    const run = (c: Contender, spec: { inFlight: number; total: number; maxMs: number }) =>
      client.call<LoadResult>("load", {
        url: `${servers[c]!.url}/v1/worker/ask`,
        ...(c === "swarmgate" ? { token: handle } : {}),
        ...spec
      }, spec.maxMs + 30_000)

    const rows = await runTrials({ label: "P1b", contenders: CONTENDERS, warmup, cases, run, log })
    return render(rows)
  } finally {
    await client.stop()
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

const render = (rows: ReadonlyArray<TrialRow<Contender>>): Section => {
  const targets: Array<Target> = []
  const at64 = rows.find((r) => r.inFlight === 64)
  const at1 = rows.find((r) => r.inFlight === 1)
  if (at64 !== undefined) {
    const sg = at64.results.swarmgate
    for (const c of ["peer", "limit"] as const) {
      const x = sg.reqPerSec / at64.results[c].reqPerSec
      targets.push({
        id: "P1b",
        what: `worker ask black box, 64 in flight, vs ${c}`,
        target: `>= ${P1B_TARGETS[c]} x`,
        value: `${ratio(x)} (${int(sg.reqPerSec)} vs ${int(at64.results[c].reqPerSec)} req/s)`,
        pass: x >= P1B_TARGETS[c] && sg.failed === 0
      })
    }
  }
  if (at1 !== undefined) {
    const x = at1.results.swarmgate.p50Ms / at1.results.peer.p50Ms
    targets.push({
      id: "P1b",
      what: "worker ask black box, p50 at 1 in flight vs peer",
      target: `<= ${P1B_TARGETS.p50VsPeer} x`,
      value: `${ratio(x)} (${ms(at1.results.swarmgate.p50Ms)} vs ${ms(at1.results.peer.p50Ms)} ms)`,
      pass: x <= P1B_TARGETS.p50VsPeer && at1.results.swarmgate.failed === 0
    })
  }
  const lines = rows.flatMap((r) =>
    CONTENDERS.map((c) => {
      const x = r.results[c]
      return [
        String(r.inFlight),
        c,
        int(x.reqPerSec),
        ms(x.p50Ms),
        ms(x.p99Ms),
        c === "swarmgate" ? "" : ratio(r.results.swarmgate.reqPerSec / x.reqPerSec),
        String(x.failed),
        r.trials[c].map(int).join(" / ")
      ]
    })
  )
  return {
    title: "P1b operator round trip, black box: POST /v1/worker/ask -> ask frame -> answer -> HTTP answer (servers in their own processes)",
    text: table(["in flight", "contender", "req/s", "p50 ms", "p99 ms", "swarmgate ÷ it", "failed", "trials req/s"], lines, 2),
    targets,
    data: { rows }
  }
}

export const p1b: Bench = { id: "p1b", run: runP1b }
