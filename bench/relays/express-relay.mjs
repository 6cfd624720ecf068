// P1b peer: what a Node developer would build by hand — Express 5 for the HTTP route and
// socket.io 4 `emitWithAck` to the operator. Loopback only.
import { randomBytes, randomUUID } from "node:crypto"
import { createServer } from "node:http"
import express from "express"
import { Server } from "socket.io"

const sid = `S-${randomBytes(16).toString("hex")}`
const app = express()
const server = createServer(app)
const io = new Server(server, { transports: ["websocket"], perMessageDeflate: false, serveClient: false })
let operator
io.on("connection", (socket) => (operator = socket))
app.post("/v1/worker/ask", express.json(), async (req, res) => {
  if (operator === undefined) return void res.status(503).end()
  const reply = await operator.emitWithAck("ask", {
    type: "ask",
    req_id: `${sid}-ask-${randomUUID()}`,
    task_id: "ST-bench",
    question: req.body.question
  })
  res.json({ answer: reply.value })
})
server.listen(0, "127.0.0.1", () => console.log(`express relay listening on http://127.0.0.1:${server.address().port}`))
process.on("SIGTERM", () => process.exit(0))
