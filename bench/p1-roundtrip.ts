/**
 * P1 request round trip (quality.md): engine-side `ask` through a real session of the real
 * server (AppLive, memory, 127.0.0.1:0) and a real socket to a separate client process that
 * answers at once; against a bare `ws` baseline answered by the same client process.
 */
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import { HttpServer } from "@effect/platform"
import { Context, Effect, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import { AppLive } from "../src/layers/App.js"
import { StepId } from "../src/protocol/ids.js"
import { SeniorBridge } from "../src/services/roles/SeniorBridge.js"
import { Sessions } from "../src/services/Sessions.js"
import { type Baseline, startBaseline } from "./baseline-server.js"
import { type LoadResult, type LoadSpec, loadEffect, loadPromise } from "./load.js"

export interface P1Case extends LoadSpec {
  /** Alternating baseline/real trials; the median trial (by req/s) of each side is kept. */
  readonly trials: number
}

export interface P1Row {
  readonly inFlight: number
  readonly real: LoadResult
  readonly baseline: LoadResult
  /** real req/s ÷ baseline req/s. */
  readonly ratio: number
  readonly trials: { readonly real: ReadonlyArray<number>; readonly baseline: ReadonlyArray<number> }
}

export interface P1Report {
  readonly rows: ReadonlyArray<P1Row>
  /** Asks the client answered, and other frames it saw (errors, cancels); both sides together. */
  readonly client: { readonly answered: number; readonly other: number }
  /** Requests still owed after the run (should be 0 on both sides). */
  readonly leftPending: { readonly real: number; readonly baseline: number }
}

export const defaultCases: ReadonlyArray<P1Case> = [
  { inFlight: 1, total: 5_000, maxMs: 4_000, trials: 1 },
  { inFlight: 64, total: 50_000, maxMs: 5_000, trials: 5 },
  { inFlight: 1024, total: 50_000, maxMs: 6_000, trials: 1 }
]

const warmup: ReadonlyArray<LoadSpec> = [
  { inFlight: 1, total: 1_000, maxMs: 2_000 },
  { inFlight: 64, total: 10_000, maxMs: 3_000 }
]

type ClientMessage =
  | { readonly op: "ready" }
  | { readonly op: "connected"; readonly id: string }
  | { readonly op: "failed"; readonly id: string; readonly message: string }
  | { readonly op: "stats"; readonly answered: number; readonly other: number }

/** The client process and a way to wait for its next message of a kind. */
const startClient = async () => {
  const child: ChildProcess = fork(new URL("./p1-client.mjs", import.meta.url), [], {
    // plain Node: no tsx loader, no --cpu-prof of the parent
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const waitFor = <M extends ClientMessage>(match: (m: ClientMessage) => m is M, ms = 10_000) =>
    new Promise<M>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off("message", onMessage)
        reject(new Error(`p1 client: no reply within ${ms} ms`))
      }, ms)
      const onMessage = (m: ClientMessage) => {
        if (m.op === "failed") {
          clearTimeout(timer)
          child.off("message", onMessage)
          reject(new Error(`p1 client: connection ${m.id} failed: ${m.message}`))
        } else if (match(m)) {
          clearTimeout(timer)
          child.off("message", onMessage)
          resolve(m)
        }
      }
      child.on("message", onMessage)
    })
  await waitFor((m): m is ClientMessage & { op: "ready" } => m.op === "ready")
  const connect = (id: string, url: string, headers: Record<string, string> = {}) => {
    const done = waitFor((m): m is ClientMessage & { op: "connected" } => m.op === "connected" && m.id === id)
    child.send({ op: "connect", id, url, headers })
    return done
  }
  const stats = () => {
    const done = waitFor((m): m is ClientMessage & { op: "stats" } => m.op === "stats")
    child.send({ op: "stats" })
    return done
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    if (child.connected) child.send({ op: "close" })
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000)
    await exited
    clearTimeout(timer)
  }
  return { connect, stats, stop }
}

const startReal = async () => {
  const layer = AppLive({ host: "127.0.0.1", port: 0, memory: true }).pipe(
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const { port, sessions } = await runtime.runPromise(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    if (server.address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return { port: server.address.port, sessions: yield* Sessions }
  }))
  return { runtime, port, sessions }
}

const median = (results: ReadonlyArray<LoadResult>): LoadResult =>
  [...results].sort((a, b) => a.reqPerSec - b.reqPerSec)[Math.floor(results.length / 2)]!

export const runP1 = async (
  log: (line: string) => void,
  cases: ReadonlyArray<P1Case> = defaultCases
): Promise<P1Report> => {
  const real = await startReal()
  let baseline: Baseline | undefined
  let client: Awaited<ReturnType<typeof startClient>> | undefined
  try {
    baseline = await startBaseline()
    client = await startClient()

    const login = await fetch(`http://127.0.0.1:${real.port}/v1/operators`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ desc: "bench p1" })
    })
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`)
    const { sid, token } = (await login.json()) as { sid: string; token: string }

    await client.connect("real", `ws://127.0.0.1:${real.port}/v1/operators/${sid}/ws`, {
      authorization: `Bearer ${token}`
    })
    await client.connect("baseline", baseline.url)
    await baseline.connected

    const live = await real.runtime.runPromise(
      Effect.flatMap(real.sessions.get(sid), Option.match({
        onNone: () => Effect.dieMessage(`session ${sid} is gone`),
        onSome: Effect.succeed
      }))
    )
    // the socket handler attaches the outbound queue just after the upgrade
    for (let i = 0; i < 200 && (await real.runtime.runPromise(live.session.state)) !== "connected"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    if ((await real.runtime.runPromise(live.session.state)) !== "connected") {
      throw new Error("the real server's session never became connected")
    }

    const bridge = Context.get(live.roles, SeniorBridge)
    const taskId = StepId.make(`ST-${randomBytes(8).toString("hex")}`)
    const question = (n: number) => ({ q: "bench", n })
    const base = baseline
    const runReal = (spec: LoadSpec) =>
      real.runtime.runPromise(loadEffect(spec, (n) => bridge.ask({ taskId, question: question(n) })))
    const runBase = (spec: LoadSpec) => loadPromise(spec, (n) => base.ask(taskId, question(n)))

    log("P1 warm-up")
    for (const spec of warmup) {
      await runBase(spec)
      await runReal(spec)
    }

    const rows: Array<P1Row> = []
    for (const c of cases) {
      const realTrials: Array<LoadResult> = []
      const baseTrials: Array<LoadResult> = []
      for (let t = 0; t < c.trials; t++) {
        baseTrials.push(await runBase(c))
        realTrials.push(await runReal(c))
        log(
          `P1 ${c.inFlight} in flight, trial ${t + 1}/${c.trials}: real ${
            Math.round(realTrials.at(-1)!.reqPerSec)
          } req/s, baseline ${Math.round(baseTrials.at(-1)!.reqPerSec)} req/s`
        )
      }
      const r = median(realTrials)
      const b = median(baseTrials)
      rows.push({
        inFlight: c.inFlight,
        real: r,
        baseline: b,
        ratio: r.reqPerSec / b.reqPerSec,
        trials: { real: realTrials.map((x) => x.reqPerSec), baseline: baseTrials.map((x) => x.reqPerSec) }
      })
    }

    const stats = await client.stats()
    const realPending = (await real.runtime.runPromise(live.session.pending)).length
    return {
      rows,
      client: { answered: stats.answered, other: stats.other },
      leftPending: { real: realPending, baseline: baseline.pendingCount() }
    }
  } finally {
    await client?.stop()
    await baseline?.close()
    await real.runtime.dispose()
  }
}
