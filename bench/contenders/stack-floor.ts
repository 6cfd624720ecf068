/**
 * The P1 stack floor: the least Effect program that relays the design card's way — a
 * fiber per request awaiting a `Deferred` registered in a `Ref<HashMap>`, completed from
 * the socket's message listener. Nothing else: no queue swap, no deadlines, no decoding
 * beyond JSON.parse. What the real session costs above this is its own overhead.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { once } from "node:events"
import { Deferred, Effect, HashMap, Option, Ref } from "effect"
import { type RawData, type WebSocket, WebSocketServer } from "ws"

export interface Floor {
  readonly url: string
  readonly connected: Promise<void>
  readonly ask: (taskId: string, question: unknown) => Effect.Effect<unknown>
  readonly pendingCount: () => number
  readonly close: () => Promise<void>
}

export const startFloor = async (): Promise<Floor> => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 })
  await once(wss, "listening")
  const address = wss.address()
  if (address === null || typeof address === "string") throw new Error("floor: expected a TCP address")
  const sid = `S-${randomBytes(16).toString("hex")}`
  const pending = Effect.runSync(Ref.make(HashMap.empty<string, Deferred.Deferred<unknown>>()))
  let socket: WebSocket | undefined
  let markConnected: () => void = () => {}
  const connected = new Promise<void>((resolve) => (markConnected = resolve))

  wss.on("connection", (ws) => {
    socket = ws
    ws.on("message", (data: RawData) => {
      const reply = JSON.parse(data.toString()) as { req_id: string; value: unknown }
      const taken = Effect.runSync(
        Ref.modify(pending, (map) => [HashMap.get(map, reply.req_id), HashMap.remove(map, reply.req_id)] as const)
      )
      if (Option.isSome(taken)) Deferred.unsafeDone(taken.value, Effect.succeed(reply.value))
    })
    markConnected()
  })

  const ask = (taskId: string, question: unknown) =>
    Effect.flatMap(Deferred.make<unknown>(), (deferred) => {
      const reqId = `${sid}-ask-${randomUUID()}`
      return Ref.update(pending, HashMap.set(reqId, deferred)).pipe(
        Effect.zipRight(Effect.sync(() => socket!.send(JSON.stringify({ type: "ask", req_id: reqId, task_id: taskId, question })))),
        Effect.zipRight(Deferred.await(deferred))
      )
    })

  const close = () =>
    new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate()
      wss.close(() => resolve())
    })

  return {
    url: `ws://127.0.0.1:${address.port}/`,
    connected,
    ask,
    pendingCount: () => HashMap.size(Effect.runSync(Ref.get(pending))),
    close
  }
}
