import { startClient, startIpcChild } from "./children.js"
const client = await startClient()
const server = await startIpcChild(new URL("file:///work/wt/bench/bench/p3-server.ts"), ["--import", "tsx", "--expose-gc"])
const port = server.ready.port
const connect = async (n: number) => {
  const { sessions } = await server.call<any>("login", { count: n }, 120000)
  if (process.argv[2] !== "login") await client.call("many", { targets: sessions.map((s: any) => ({ url: `ws://127.0.0.1:${port}/v1/operators/${s.sid}/ws`, token: s.token })), mode: "hold" }, 120000)
  await new Promise((r) => setTimeout(r, 1000))
}
await connect(200)
await server.call("snapshot", { path: "/tmp/benchtools/s1.heapsnapshot" }, 120000)
await connect(1000)
await server.call("snapshot", { path: "/tmp/benchtools/s2.heapsnapshot" }, 120000)
await client.stop(); await server.stop()
