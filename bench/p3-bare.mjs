// P3's reference point: a bare `ws` server holding idle sockets in a `Map`, in a process of
// its own (run with --expose-gc), reporting its memory over IPC. Loopback only.
import { WebSocketServer } from "ws"

process.on("disconnect", () => process.exit(0))
setTimeout(() => process.exit(2), 5 * 60_000).unref()
const sockets = new Map()
let n = 0
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false })
wss.on("connection", (ws) => {
  const id = `S-${n++}`
  sockets.set(id, ws)
  ws.on("message", () => {})
  ws.on("close", () => sockets.delete(id))
})
const memory = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return process.memoryUsage()
}
process.on("message", async (m) => {
  if (m.op === "memory") process.send({ op: "done", seq: m.seq, memory: await memory(), open: sockets.size })
})
wss.on("listening", () => process.send({ op: "ready", port: wss.address().port }))
