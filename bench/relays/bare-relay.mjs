// P1b limit: a bare `node:http` + `ws` relay with a `Map`. `POST /v1/worker/ask` with
// {question} pushes an `ask` frame to the one operator socket (at /ws) and answers
// {answer} once the operator's `answer` frame comes back. Loopback only.
import { randomBytes, randomUUID } from "node:crypto"
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

const sid = `S-${randomBytes(16).toString("hex")}`
const pending = new Map()
let operator
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 })
wss.on("connection", (ws) => {
  operator = ws
  ws.on("message", (data) => {
    const reply = JSON.parse(data.toString())
    const res = pending.get(reply.req_id)
    if (res === undefined) return
    pending.delete(reply.req_id)
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ answer: reply.value }))
  })
})
const server = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/v1/worker/ask") return void res.writeHead(404).end()
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    const { question } = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    if (operator === undefined) return void res.writeHead(503).end()
    const reqId = `${sid}-ask-${randomUUID()}`
    pending.set(reqId, res)
    operator.send(JSON.stringify({ type: "ask", req_id: reqId, task_id: "ST-bench", question }))
  })
})
server.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws)))
server.listen(0, "127.0.0.1", () => console.log(`bare relay listening on http://127.0.0.1:${server.address().port}`))
process.on("SIGTERM", () => process.exit(0))
