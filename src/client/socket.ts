/**
 * One operator WebSocket as the client sees it: opened with `Authorization: Bearer` (Node can
 * set that header; docs/operators.md), its frames and its close delivered as a queue of events.
 * Uses `ws` directly, as the server does, because the refusal status (401/404 before the
 * upgrade) and the close code decide what the connection does next.
 */
import { Effect, Queue, type Scope } from "effect"
import { WebSocket } from "ws"

export type SocketEvent =
  | { readonly _tag: "Message"; readonly text: string }
  | { readonly _tag: "Alive" } // a ping from the server: the link works
  | { readonly _tag: "Closed"; readonly code: number; readonly reason: string }

export type OpenFailure =
  | { readonly _tag: "Refused"; readonly status: number }
  | { readonly _tag: "Failed"; readonly message: string }

export interface OpenSocket {
  readonly events: Queue.Dequeue<SocketEvent>
  /** false when the socket is no longer open (the text is dropped). */
  readonly send: (text: string) => Effect.Effect<boolean>
  /** Cut the link without a close handshake (a dead peer). */
  readonly terminate: Effect.Effect<void>
}

const CLOSE_WAIT_MS = 2000

/** Opens the socket; the scope's end closes it politely with 1000. */
export const openSocket = (url: string, token: string): Effect.Effect<OpenSocket, OpenFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const events = yield* Queue.unbounded<SocketEvent>()
    const ws = yield* Effect.acquireRelease(
      Effect.async<WebSocket, OpenFailure>((resume) => {
        let settled = false
        const settle = (effect: Effect.Effect<WebSocket, OpenFailure>) => {
          if (!settled) {
            settled = true
            resume(effect)
          }
        }
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } })
        ws.on("message", (data, isBinary) => {
          if (!isBinary) Queue.unsafeOffer(events, { _tag: "Message", text: data.toString() })
        })
        ws.on("ping", () => Queue.unsafeOffer(events, { _tag: "Alive" }))
        ws.on("close", (code, reason) => {
          Queue.unsafeOffer(events, { _tag: "Closed", code, reason: reason.toString() })
          settle(Effect.fail({ _tag: "Failed", message: `closed during the handshake (${code})` }))
        })
        ws.on("error", (error) => settle(Effect.fail({ _tag: "Failed", message: error.message })))
        ws.once("unexpected-response", (request, response) => {
          settle(Effect.fail({ _tag: "Refused", status: response.statusCode ?? 0 }))
          response.resume()
          request.destroy()
        })
        ws.once("open", () => settle(Effect.succeed(ws)))
        return Effect.sync(() => ws.terminate())
      }),
      (ws) =>
        Effect.async<void>((resume) => {
          if (ws.readyState === WebSocket.CLOSED) return resume(Effect.void)
          const timer = setTimeout(() => {
            ws.terminate()
            resume(Effect.void)
          }, CLOSE_WAIT_MS)
          ws.once("close", () => {
            clearTimeout(timer)
            resume(Effect.void)
          })
          if (ws.readyState === WebSocket.OPEN) ws.close(1000, "operator leaving")
        })
    )
    return {
      events,
      send: (text) =>
        Effect.sync(() => {
          if (ws.readyState !== WebSocket.OPEN) return false
          ws.send(text)
          return true
        }),
      terminate: Effect.sync(() => ws.terminate())
    }
  })
