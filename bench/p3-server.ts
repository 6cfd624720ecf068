/**
 * P3's server process: the whole server (AppLive, memory, 127.0.0.1:0) in a process of its
 * own (forked with `--import tsx --expose-gc`), so its memory is the server's alone. Driven
 * over IPC by p3-sessions.ts: log sessions in, report memory after a full GC, issue
 * engine-side asks and wait for their answers.
 */
import { HttpServer } from "@effect/platform"
import { Context, Effect, ManagedRuntime, Option } from "effect"
import { AppLive } from "../src/layers/App.js"
import { StepId } from "../src/protocol/ids.js"
import { SeniorBridge } from "../src/services/roles/SeniorBridge.js"
import { Sessions } from "../src/services/Sessions.js"
import { asServed } from "./served.js"

const hardCap = setTimeout(() => process.exit(2), 5 * 60_000)
hardCap.unref()
process.on("disconnect", () => process.exit(0))

const runtime = ManagedRuntime.make(
  asServed(AppLive({ host: "127.0.0.1", port: 0, memory: true }))
)
const { port, sessions } = await runtime.runPromise(Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  return { port: server.address._tag === "TcpAddress" ? server.address.port : 0, sessions: yield* Sessions }
}))

const gc = (globalThis as { gc?: () => void }).gc
const memory = async () => {
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return process.memoryUsage()
}

const taskId = StepId.make("ST-00000000000000b3")
let asks: Promise<{ answered: number; failed: number; ms: number }> | undefined

const ops: Record<string, (m: Record<string, unknown>) => Promise<Record<string, unknown>>> = {
  memory: async () => ({ memory: await memory() }),
  // for finding out what a session holds (not used by the bench itself)
  snapshot: async (m) => {
    await memory()
    const { writeHeapSnapshot } = await import("node:v8")
    return { path: writeHeapSnapshot(m.path as string) }
  },
  login: async (m) => {
    const count = m.count as number
    const made = await runtime.runPromise(
      Effect.forEach(Array.from({ length: count }), () => sessions.login("bench p3"), { concurrency: 64 })
    )
    return { sessions: made.map((s) => ({ sid: s.sid, token: s.token })) }
  },
  connected: async () => {
    const list = await runtime.runPromise(sessions.list())
    return { connected: list.filter((s) => s.connected).length, total: list.length }
  },
  ask: async (m) => {
    const sids = m.sids as Array<string>
    const each = m.each as number
    const start = performance.now()
    const program = Effect.forEach(sids, (sid) =>
      Effect.gen(function*() {
        const roles = yield* sessions.roles(sid)
        if (Option.isNone(roles)) return yield* Effect.dieMessage(`no session ${sid}`)
        const bridge = Context.get(roles.value, SeniorBridge)
        return yield* Effect.forEach(
          Array.from({ length: each }, (_, i) => i),
          (i) => Effect.either(bridge.ask({ taskId, question: { i } })),
          { concurrency: "unbounded" }
        )
      }), { concurrency: "unbounded" })
    asks = runtime.runPromise(program.pipe(Effect.timeout("60 seconds"))).then((all) => {
      const flat = all.flat()
      const failed = flat.filter((e) => e._tag === "Left").length
      return { answered: flat.length - failed, failed, ms: performance.now() - start }
    })
    // reported by awaitAsks; never an unhandled rejection
    asks.catch(() => {})
    return {}
  },
  awaitAsks: async () => {
    if (asks === undefined) throw new Error("no asks issued")
    return await asks
  }
}

process.on("message", (m: Record<string, unknown> & { op: string; seq: number }) => {
  const op = ops[m.op]
  if (op === undefined) return
  op(m).then(
    (result) => process.send?.({ op: "done", seq: m.seq, ...result }),
    (error) => process.send?.({ op: "failed", seq: m.seq, message: String(error?.message ?? error) })
  )
})
process.send?.({ op: "ready", port, gc: gc !== undefined })
