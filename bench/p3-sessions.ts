/**
 * P3 sessions at scale: 10,000 operator sessions logged in and connected over
 * real sockets (from the client process), idle; RSS per session above the empty server,
 * after a full GC. Then 1,000 of them get 10 engine-side asks each, all outstanding at
 * once (the client holds them) before every one is answered. The same idle sockets on a
 * bare `ws` server with a `Map` are measured first, for reference.
 */
import { type Client, startClient, startIpcChild } from "./children.js"
import type { Bench, Log, Section, Target } from "./suite.js"
import { int, kib, mib, ms, sleep, table } from "./table.js"

// BENCH_P3_SESSIONS: a smaller run while iterating; the target is measured at 10,000
const SESSIONS = Number(process.env.BENCH_P3_SESSIONS ?? 10_000)
const ASKING = Math.min(1_000, SESSIONS)
const EACH = 10
export const P3_KIB_PER_SESSION = 16

type Memory = { rss: number; heapUsed: number; external: number; arrayBuffers: number }

const waitFor = async (what: string, check: () => Promise<boolean>, capMs: number) => {
  const until = performance.now() + capMs
  while (performance.now() < until) {
    if (await check()) return
    await sleep(100)
  }
  throw new Error(`${what}: not within ${capMs} ms`)
}

const idleSockets = async (client: Client, url: (i: number) => string, tokens: ReadonlyArray<string> | undefined) => {
  const targets = Array.from({ length: SESSIONS }, (_, i) => ({ url: url(i), token: tokens?.[i] ?? "" }))
  await client.call("many", { targets, mode: "hold" }, 120_000)
}

export const runP3 = async (log: Log): Promise<Section> => {
  const client = await startClient(log)
  try {
    // the reference: a bare ws server
    const bare = await startIpcChild(new URL("./p3-bare.mjs", import.meta.url), ["--expose-gc"])
    let bareRow: { before: Memory; after: Memory }
    try {
      const before = (await bare.call<{ memory: Memory }>("memory")).memory
      await idleSockets(client, () => `ws://127.0.0.1:${bare.ready.port}/`, undefined)
      const after = (await bare.call<{ memory: Memory }>("memory")).memory
      bareRow = { before, after }
      log(`P3 bare ws: ${kib((after.rss - before.rss) / SESSIONS)} RSS per idle socket`)
    } finally {
      await client.call("closeAll")
      await bare.stop()
    }

    const server = await startIpcChild(new URL("./p3-server.ts", import.meta.url), ["--import", "tsx", "--expose-gc"])
    try {
      const port = server.ready.port as number
      const before = (await server.call<{ memory: Memory }>("memory")).memory
      const t0 = performance.now()
      const { sessions } = await server.call<{ sessions: Array<{ sid: string; token: string }> }>("login", { count: SESSIONS }, 120_000)
      log(`P3 swarmgate: ${SESSIONS} sessions logged in in ${ms(performance.now() - t0)} ms`)
      await idleSockets(
        client,
        (i) => `ws://127.0.0.1:${port}/v1/operators/${sessions[i]!.sid}/ws`,
        sessions.map((s) => s.token)
      )
      await waitFor("every session connected", async () =>
        (await server.call<{ connected: number }>("connected")).connected === SESSIONS, 30_000)
      const setupMs = performance.now() - t0
      const idle = (await server.call<{ memory: Memory }>("memory")).memory
      const perSession = (idle.rss - before.rss) / SESSIONS
      log(`P3 swarmgate: ${SESSIONS} sessions connected in ${ms(setupMs)} ms; ${kib(perSession)} RSS per idle session`)

      const t1 = performance.now()
      await server.call("ask", { sids: sessions.slice(0, ASKING).map((s) => s.sid), each: EACH })
      await waitFor("every ask at the client", async () =>
        (await client.call<{ held: number }>("stats")).held >= ASKING * EACH, 60_000)
      const outstandingMs = performance.now() - t1
      const outstanding = (await server.call<{ memory: Memory }>("memory")).memory
      const t2 = performance.now()
      await client.call("release")
      const settled = await server.call<{ answered: number; failed: number; ms: number }>("awaitAsks", {}, 90_000)
      // from the client's release to the last answer at the server
      const asked = { answered: settled.answered, failed: settled.failed, ms: performance.now() - t2 }
      log(`P3 ${ASKING} x ${EACH} asks: ${asked.answered} answered, ${asked.failed} failed, ${ms(asked.ms)} ms after release`)

      const data = {
        sessions: SESSIONS,
        bare: { ...bareRow, perSocketBytes: (bareRow.after.rss - bareRow.before.rss) / SESSIONS },
        swarmgate: {
          before,
          idle,
          perSessionBytes: perSession,
          heapPerSessionBytes: (idle.heapUsed - before.heapUsed) / SESSIONS,
          setupMs,
          outstanding,
          outstandingMs,
          asks: { sessions: ASKING, each: EACH, ...asked }
        }
      }
      const targets: Array<Target> = [
        {
          id: "P3",
          what: `RSS per idle connected session (${int(SESSIONS)} sessions)`,
          target: `<= ${P3_KIB_PER_SESSION} KiB`,
          value: `${kib(perSession)} (bare ws ${kib(data.bare.perSocketBytes)})`,
          pass: perSession <= P3_KIB_PER_SESSION * 1024
        },
        {
          id: "P3",
          what: `${int(ASKING)} sessions x ${EACH} outstanding asks`,
          target: "every request answered",
          value: `${int(asked.answered)} of ${int(ASKING * EACH)}, ${ms(asked.ms)} ms after release`,
          pass: asked.answered === ASKING * EACH && asked.failed === 0
        }
      ]
      const row = (name: string, b: Memory, a: Memory) => [
        name,
        mib(b.rss),
        mib(a.rss),
        kib((a.rss - b.rss) / SESSIONS),
        kib((a.heapUsed - b.heapUsed) / SESSIONS),
        kib((a.external - b.external) / SESSIONS)
      ]
      return {
        title: `P3 sessions at scale: ${int(SESSIONS)} idle connected sessions, then ${int(ASKING)} x ${EACH} outstanding asks`,
        text: table(["server", "RSS empty", "RSS idle", "RSS/session", "heap/session", "external/session"], [
          row("bare ws + Map", bareRow.before, bareRow.after),
          row("swarmgate", before, idle)
        ]) + `\nwith ${int(ASKING * EACH)} asks outstanding: RSS ${mib(outstanding.rss)}; issued and delivered in ` +
          `${ms(outstandingMs)} ms; ${int(asked.answered)} answered, ${asked.failed} failed, the last ${ms(asked.ms)} ms after the client answered`,
        targets,
        data
      }
    } finally {
      await client.call("closeAll").catch(() => {})
      await server.stop()
    }
  } finally {
    await client.stop()
  }
}

export const p3: Bench = { id: "p3", run: runP3 }
