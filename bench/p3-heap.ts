/**
 * What one connected session holds, for finding out where P3's memory goes (not part of
 * `npm run bench`): the P3 server with A and then B connected sessions, a heap snapshot
 * after a full GC at each, and the heap and RSS difference per session. Compare the two
 * snapshots in Chrome DevTools (Memory → Comparison).
 *
 *   A=200 B=1200 OUT=/tmp node --import tsx bench/p3-heap.ts
 */
import { join } from "node:path"
import { startClient, startIpcChild } from "./children.js"

const A = Number(process.env.A ?? 200)
const B = Number(process.env.B ?? 1_200)
const OUT = process.env.OUT ?? "/tmp"
type Memory = { rss: number; heapUsed: number }

const client = await startClient()
const server = await startIpcChild(new URL("./p3-server.ts", import.meta.url), ["--import", "tsx", "--expose-gc"])
try {
  const port = server.ready.port as number
  const connect = async (n: number) => {
    const { sessions } = await server.call<{ sessions: Array<{ sid: string; token: string }> }>("login", { count: n }, 120_000)
    const targets = sessions.map((s) => ({ url: `ws://127.0.0.1:${port}/v1/operators/${s.sid}/ws`, token: s.token }))
    await client.call("many", { targets, mode: "hold" }, 120_000)
    for (;;) {
      const c = await server.call<{ connected: number; total: number }>("connected")
      if (c.connected === c.total) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const snapshot = async (name: string) => {
    const { memory } = await server.call<{ memory: Memory }>("memory")
    const { path } = await server.call<{ path: string }>("snapshot", { path: join(OUT, name) }, 120_000)
    return { memory, path }
  }
  await connect(A)
  const a = await snapshot(`p3-${A}.heapsnapshot`)
  await connect(B - A)
  const b = await snapshot(`p3-${B}.heapsnapshot`)
  const per = (f: (m: Memory) => number) => ((f(b.memory) - f(a.memory)) / (B - A) / 1024).toFixed(2)
  console.log(`per connected session: heap ${per((m) => m.heapUsed)} KiB, RSS ${per((m) => m.rss)} KiB`)
  console.log(`snapshots: ${a.path} ${b.path}`)
} finally {
  await client.call("closeAll").catch(() => {})
  await server.stop()
  await client.stop()
}
