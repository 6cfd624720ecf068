/**
 * P1 request round trip: engine-side `ask` through a real session of the real
 * server (AppLive, memory, 127.0.0.1:0) and a real socket to a separate client process that
 * answers at once. Contenders in the same run, answered by the same client process:
 * limit = bare `ws` + `Map`; peer = socket.io 4 `emitWithAck`; floor = the least Effect
 * program done the design card's way.
 */
import { randomBytes } from "node:crypto"
import { HttpServer } from "@effect/platform"
import { Context, Effect, ManagedRuntime, Option } from "effect"
import { AppLive } from "../src/layers/App.js"
import { StepId } from "../src/protocol/ids.js"
import { SeniorBridge } from "../src/services/roles/SeniorBridge.js"
import { Sessions } from "../src/services/Sessions.js"
import { startClient } from "./children.js"
import { startBaseline } from "./contenders/bare-ws.js"
import { startPeer } from "./contenders/socketio-peer.js"
import { startFloor } from "./contenders/stack-floor.js"
import { type LoadResult, type LoadSpec, loadEffect, loadPromise, runTrials, type TrialCase } from "./load.js"
import type { Bench, Log, Section, Target } from "./suite.js"
import { int, ms, ratio, sleep, table } from "./table.js"
import { asServed } from "./served.js"

export const ALL_CONTENDERS = ["swarmgate", "floor", "peer", "limit"] as const
export type Contender = (typeof ALL_CONTENDERS)[number]
/** `--contenders=swarmgate` (for profiling one side); ratios to a skipped contender are left out. */
const chosen = process.argv.find((a) => a.startsWith("--contenders="))?.slice("--contenders=".length).split(",")
const CONTENDERS = ALL_CONTENDERS.filter((c) => c === "swarmgate" || chosen === undefined || chosen.includes(c))

const cases: ReadonlyArray<TrialCase> = [
  { inFlight: 1, total: 4_000, maxMs: 1_500, trials: 1 },
  { inFlight: 64, total: 40_000, maxMs: 2_500, trials: 3 },
  { inFlight: 1024, total: 40_000, maxMs: 3_000, trials: 1 }
]
const warmup: ReadonlyArray<LoadSpec> = [
  { inFlight: 1, total: 1_000, maxMs: 750 },
  { inFlight: 64, total: 10_000, maxMs: 1_500 }
]

/** Targets at 64 in flight: swarmgate req/s ÷ contender req/s. */
export const P1_TARGETS: Readonly<Record<Exclude<Contender, "swarmgate">, number>> = { peer: 1.2, floor: 0.9, limit: 0.45 }

export interface P1Row {
  readonly inFlight: number
  readonly results: Readonly<Record<Contender, LoadResult>>
  readonly trials: Readonly<Record<Contender, ReadonlyArray<number>>>
}

const startReal = async () => {
  const layer = asServed(AppLive({ host: "127.0.0.1", port: 0, memory: true }))
  const runtime = ManagedRuntime.make(layer)
  const { port, sessions } = await runtime.runPromise(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { port: server.address.port, sessions: yield* Sessions }
  }))
  return { runtime, port, sessions }
}

const bad = (r: LoadResult) => r.failed + r.lost > 0

export const runP1 = async (log: Log): Promise<Section> => {
  const real = await startReal()
  const limit = await startBaseline()
  const peer = await startPeer()
  const floor = await startFloor()
  const client = await startClient(log)
  try {
    const login = await fetch(`http://127.0.0.1:${real.port}/v1/operators`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ desc: "bench p1" })
    })
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`)
    const { sid, token } = (await login.json()) as { sid: string; token: string }
    await client.call("connect", {
      id: "swarmgate",
      url: `ws://127.0.0.1:${real.port}/v1/operators/${sid}/ws`,
      headers: { authorization: `Bearer ${token}` }
    })
    await client.call("connect", { id: "limit", url: limit.url })
    await client.call("connect", { id: "floor", url: floor.url })
    await client.call("connect", { id: "peer", url: peer.url, kind: "sio" })
    await Promise.all([limit.connected, floor.connected, peer.connected])

    const live = await real.runtime.runPromise(
      Effect.flatMap(real.sessions.get(sid), Option.match({
        onNone: () => Effect.dieMessage(`session ${sid} is gone`),
        onSome: Effect.succeed
      }))
    )
    // the socket handler attaches the outbound queue just after the upgrade
    for (let i = 0; i < 200 && (await real.runtime.runPromise(live.session.state)) !== "connected"; i++) await sleep(10)
    if ((await real.runtime.runPromise(live.session.state)) !== "connected") {
      throw new Error("the real server's session never became connected")
    }

    const bridge = Context.get(live.roles, SeniorBridge)
    const taskId = StepId.make(`ST-${randomBytes(8).toString("hex")}`)
    const question = (n: number) => ({ q: "bench", n })
    const runs: Record<Contender, (spec: LoadSpec) => Promise<LoadResult>> = {
      swarmgate: (spec) => real.runtime.runPromise(loadEffect(spec, (n) => bridge.ask({ taskId, question: question(n) }))),
      floor: (spec) => Effect.runPromise(loadEffect(spec, (n) => floor.ask(taskId, question(n)))),
      peer: (spec) => loadPromise(spec, (n) => peer.ask(taskId, question(n))),
      limit: (spec) => loadPromise(spec, (n) => limit.ask(taskId, question(n)))
    }
    // CPU time of this process per request (server side plus the load loop): unlike req/s
    // it hardly moves when other jobs share the machine
    const run: Record<Contender, (spec: LoadSpec) => Promise<LoadResult & { cpuUsPerReq: number }>> = Object.fromEntries(
      CONTENDERS.map((c) => [c, async (spec: LoadSpec) => {
        const before = process.cpuUsage()
        const result = await runs[c](spec)
        const used = process.cpuUsage(before)
        return { ...result, cpuUsPerReq: (used.user + used.system) / Math.max(1, result.completed) }
      }])
    ) as never

    const rows: Array<P1Row> = await runTrials({
      label: "P1",
      contenders: CONTENDERS,
      warmup,
      cases,
      run: (c, spec) => run[c](spec),
      log
    })
    const stats = await client.call<{ answered: number; other: number }>("stats")
    const leftPending = {
      swarmgate: (await real.runtime.runPromise(live.session.pending)).length,
      floor: floor.pendingCount(),
      limit: limit.pendingCount()
    }
    return render(rows, stats, leftPending)
  } finally {
    await client.stop()
    await Promise.all([limit.close(), peer.close(), floor.close()])
    await real.runtime.dispose()
  }
}

const render = (
  rows: ReadonlyArray<P1Row>,
  stats: { answered: number; other: number },
  leftPending: Record<string, number>
): Section => {
  const targets: Array<Target> = []
  const at64 = rows.find((r) => r.inFlight === 64)
  if (at64 !== undefined) {
    const sg = at64.results.swarmgate
    for (const [c, goal] of Object.entries(P1_TARGETS) as Array<[Exclude<Contender, "swarmgate">, number]>) {
      const other = at64.results[c]
      if (other === undefined) continue
      const x = sg.reqPerSec / other.reqPerSec
      targets.push({
        id: "P1",
        what: `ask round trip, 64 in flight, vs ${c}`,
        target: `>= ${goal} x`,
        value: `${ratio(x)} (${int(sg.reqPerSec)} vs ${int(other.reqPerSec)} req/s)`,
        pass: x >= goal && !bad(sg)
      })
    }
  }
  const header = ["in flight", "contender", "req/s", "p50 ms", "p99 ms", "cpu µs/req", "swarmgate ÷ it", "failed/lost", "trials req/s"]
  const lines = rows.flatMap((r) =>
    CONTENDERS.map((c) => {
      const x = r.results[c]
      return [
        String(r.inFlight),
        c,
        int(x.reqPerSec),
        ms(x.p50Ms),
        ms(x.p99Ms),
        int((x as LoadResult & { cpuUsPerReq?: number }).cpuUsPerReq ?? Number.NaN),
        c === "swarmgate" ? "" : ratio(r.results.swarmgate.reqPerSec / x.reqPerSec),
        `${x.failed}/${x.lost}${x.timeCapped ? " (time cap)" : ""}`,
        r.trials[c].map(int).join(" / ")
      ]
    })
  )
  const text = table(header, lines, 2) + "\n" +
    `client answered ${int(stats.answered)} asks (${stats.other} other frames); left pending: ` +
    Object.entries(leftPending).map(([k, v]) => `${k} ${v}`).join(", ")
  return {
    title: "P1 request round trip: engine-side ask -> session -> WebSocket -> client process -> answer",
    text,
    targets,
    data: { rows, client: stats, leftPending }
  }
}

export const p1: Bench = { id: "p1", run: runP1 }
