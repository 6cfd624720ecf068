/**
 * The P1 peer: a socket.io 4 server pushing the same `ask` frame with `emitWithAck` to a
 * socket.io client that acks with the answer — what a Node developer would build by hand.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { createServer } from "node:http"
import { once } from "node:events"
import { Server, type Socket } from "socket.io"

export interface Peer {
  readonly url: string
  readonly connected: Promise<void>
  readonly ask: (taskId: string, question: unknown) => Promise<unknown>
  readonly close: () => Promise<void>
}

export const startPeer = async (): Promise<Peer> => {
  const http = createServer()
  const io = new Server(http, { transports: ["websocket"], perMessageDeflate: false, serveClient: false })
  http.listen(0, "127.0.0.1")
  await once(http, "listening")
  const address = http.address()
  if (address === null || typeof address === "string") throw new Error("peer: expected a TCP address")
  const sid = `S-${randomBytes(16).toString("hex")}`
  let socket: Socket | undefined
  let markConnected: () => void = () => {}
  const connected = new Promise<void>((resolve) => (markConnected = resolve))
  io.on("connection", (s) => {
    socket = s
    markConnected()
  })
  const ask = async (taskId: string, question: unknown) => {
    if (socket === undefined) throw new Error("peer: no client connected")
    const reply = await socket.emitWithAck("ask", { type: "ask", req_id: `${sid}-ask-${randomUUID()}`, task_id: taskId, question })
    return (reply as { value: unknown }).value
  }
  const close = () => new Promise<void>((resolve) => io.close(() => resolve()))
  return { url: `http://127.0.0.1:${address.port}`, connected, ask, close }
}
