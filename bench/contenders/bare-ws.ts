/**
 * The P1 limit: a bare `ws` server with a `Map` of promises and JSON.parse/stringify,
 * nothing else. Frames have the same shape and size as the real server's (`req_id` is
 * `<sid>-ask-<uuid>`), so the only difference measured is what the server does around them.
 */
import { once } from "node:events"
import { randomBytes, randomUUID } from "node:crypto"
import { type RawData, type WebSocket, WebSocketServer } from "ws"

export interface Baseline {
  readonly url: string
  /** Resolves once the client's socket is open. */
  readonly connected: Promise<void>
  readonly ask: (taskId: string, question: unknown) => Promise<unknown>
  readonly pendingCount: () => number
  readonly close: () => Promise<void>
}

interface Waiter {
  readonly resolve: (value: unknown) => void
  readonly reject: (error: Error) => void
}

export const startBaseline = async (): Promise<Baseline> => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 })
  await once(wss, "listening")
  const address = wss.address()
  if (address === null || typeof address === "string") throw new Error("baseline: expected a TCP address")
  const sid = `S-${randomBytes(16).toString("hex")}`
  const pending = new Map<string, Waiter>()
  let socket: WebSocket | undefined
  let markConnected: () => void = () => {}
  const connected = new Promise<void>((resolve) => (markConnected = resolve))

  wss.on("connection", (ws) => {
    socket = ws
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary) return
      const reply = JSON.parse(data.toString())
      const waiter = pending.get(reply.req_id)
      if (waiter === undefined) return
      pending.delete(reply.req_id)
      waiter.resolve(reply.value)
    })
    ws.on("close", () => {
      for (const waiter of pending.values()) waiter.reject(new Error("baseline: socket closed"))
      pending.clear()
    })
    markConnected()
  })

  const ask = (taskId: string, question: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      if (socket === undefined) return reject(new Error("baseline: no client connected"))
      const reqId = `${sid}-ask-${randomUUID()}`
      pending.set(reqId, { resolve, reject })
      socket.send(JSON.stringify({ type: "ask", req_id: reqId, task_id: taskId, question }))
    })

  const close = () =>
    new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate()
      wss.close(() => resolve())
    })

  return { url: `ws://127.0.0.1:${address.port}/`, connected, ask, pendingCount: () => pending.size, close }
}
