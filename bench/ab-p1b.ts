/**
 * A/B of server builds on the P1b round trip (docs/performance.md, "HTTP path"): each
 * build started as users start it, seated and driven by the bench's client process, the
 * builds alternating every round; prints the server's CPU time per answered ask (from
 * /proc, so Linux only), req/s and p50. Not part of `npm run bench`.
 *
 *   mkdir .perfbase && cp -r dist package.json .perfbase/   # inside the checkout: node_modules resolves
 *   (change, npm run build)
 *   AB="base=.perfbase/dist/cli/bin.js,new=dist/cli/bin.js" ROUNDS=5 N=2500 npx tsx bench/ab-p1b.ts
 *
 * A build may carry env: `name=entry;KEY:value`. INFLIGHT (64), N asks per round, ROUNDS (first discarded).
 */
import { createRequire } from "node:module"
import { startClient, startServerProcess, type ServerProcess } from "./children.js"
import { prepareSwarmgate } from "./p1b-blackbox.js"
const require = createRequire(import.meta.url)
const specs = (process.env.AB ?? "base=.perfbase/base/cli/bin.js,new=dist/cli/bin.js").split(",").map((s) => {
  const [name, rest] = s.split("="); const [entry, ...envs] = rest!.split(";")
  return { name: name!, entry: entry!, env: Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf(":")), e.slice(e.indexOf(":") + 1)] as [string, string])) }
})
const client = await startClient(console.error)
const servers: Array<{ name: string; server: ServerProcess; handle: string; cpu: number[]; rps: number[]; p50: number[] }> = []
const ticks = (pid: number) => { const st = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8").split(" "); return Number(st[13]) + Number(st[14]) }
try {
  for (const s of specs) {
    const server = await startServerProcess([s.entry, "serve", "--memory", "--port", "0"], { env: s.env })
    const handle = await prepareSwarmgate(server, client, s.name)
    servers.push({ name: s.name, server, handle, cpu: [], rps: [], p50: [] })
  }
  const inFlight = Number(process.env.INFLIGHT ?? 64)
  const total = Number(process.env.N ?? 3000)
  for (let round = 0; round < Number(process.env.ROUNDS ?? 5); round++) {
    for (const s of servers) {
      const c0 = ticks(s.server.pid)
      const r = await client.call<any>("load", { url: `${s.server.url}/v1/worker/ask`, token: s.handle, inFlight, total, maxMs: 15000 }, 60000)
      if (r.failed > 0) console.error(`${s.name}: ${r.failed} failed`)
      if (round > 0) { s.cpu.push((ticks(s.server.pid) - c0) * 10000 / r.completed); s.rps.push(r.reqPerSec); s.p50.push(r.p50Ms) }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  for (const s of servers) console.log(`${s.name.padEnd(10)} cpu µs/req ${Math.round(med(s.cpu))} [${s.cpu.map(Math.round).join(" ")}]  req/s ${Math.round(med(s.rps))}  p50 ${med(s.p50).toFixed(3)} ms`)
} finally {
  await client.stop(); await Promise.all(servers.map((s) => s.server.stop()))
}
