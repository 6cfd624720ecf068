// The P1 operator client, run as a separate plain-Node process (child_process.fork, IPC).
// It holds WebSocket connections opened on the parent's request and answers every `ask`
// frame at once with {"type":"answer","req_id":…,"value":<the question>}. The same code
// answers the real server and the baseline, so both comparisons share this client.
//
// IPC from the parent:  {op:"connect", id, url, headers}  → {op:"connected", id} | {op:"failed", id, message}
//                       {op:"stats"}                       → {op:"stats", answered, other}
//                       {op:"close"}                       → closes every socket, exits 0
import { WebSocket } from "ws"

const sockets = new Map()
let answered = 0
let other = 0

// never outlive the bench: the parent gone, or a hard cap of 5 minutes
const hardCap = setTimeout(() => process.exit(2), 5 * 60_000)
hardCap.unref()
process.on("disconnect", () => process.exit(0))

const send = (message) => {
  if (process.connected) process.send(message)
}

const connect = ({ id, url, headers }) => {
  if (!/^ws:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(url)) {
    send({ op: "failed", id, message: `refusing a non-loopback url ${url}` })
    return
  }
  const ws = new WebSocket(url, { headers, perMessageDeflate: false })
  ws.on("message", (data, isBinary) => {
    if (isBinary) {
      other += 1
      return
    }
    const frame = JSON.parse(data.toString())
    if (frame.type === "ask") {
      answered += 1
      ws.send(JSON.stringify({ type: "answer", req_id: frame.req_id, value: frame.question }))
    } else {
      other += 1
    }
  })
  ws.once("open", () => {
    sockets.set(id, ws)
    send({ op: "connected", id })
  })
  ws.once("unexpected-response", (_req, res) => send({ op: "failed", id, message: `HTTP ${res.statusCode}` }))
  ws.on("error", (error) => send({ op: "failed", id, message: String(error.message ?? error) }))
}

const closeAll = () => {
  for (const ws of sockets.values()) ws.close(1000)
  // give the closes a moment to go out, then leave
  setTimeout(() => process.exit(0), 200).unref()
  setTimeout(() => process.exit(0), 1000)
}

process.on("message", (message) => {
  switch (message?.op) {
    case "connect":
      connect(message)
      break
    case "stats":
      send({ op: "stats", answered, other })
      break
    case "close":
      closeAll()
      break
  }
})

send({ op: "ready" })
