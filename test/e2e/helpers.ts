/**
 * End-to-end helpers: a real server on 127.0.0.1:0 (live clock), plain `fetch`, and real
 * `ws` clients that record every frame and the close.
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { WebSocket } from "ws"
import { AppLive, type EngineOptions } from "../../src/layers/App.js"
import type { ServerConfigInput } from "../../src/layers/ServerConfig.js"
import { Sessions, type SessionsShape } from "../../src/services/Sessions.js"
import { Steps, type StepsShape } from "../../src/services/Steps.js"

export interface TestServer {
  readonly url: string
  readonly wsUrl: string
  readonly port: number
  readonly sessions: SessionsShape
  /** The step records, to check what the API does not show. */
  readonly steps?: StepsShape
  readonly run: <A, E>(effect: Effect.Effect<A, E, never>) => Promise<A>
  readonly close: () => Promise<void>
}

export const startServer = async (input: ServerConfigInput = {}, engine: EngineOptions = {}): Promise<TestServer> => {
  const layer = AppLive({ host: "127.0.0.1", port: 0, memory: true, ...input }, engine).pipe(
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const { port, sessions, steps } = await runtime.runPromise(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { port, sessions: yield* Sessions, steps: yield* Steps }
  }))
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    sessions,
    steps,
    run: (effect) => Effect.runPromise(effect),
    close: () => runtime.dispose()
  }
}

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

export const request = async (
  server: TestServer,
  method: string,
  path: string,
  options: { readonly headers?: Record<string, string>; readonly body?: string } = {}
): Promise<Reply> => {
  const response = await fetch(server.url + path, {
    method,
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body })
  })
  const text = await response.text()
  let json: unknown = undefined
  try {
    json = text === "" ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/**
 * Tokens of the sessions this test process logged in. Seating a session in a run needs
 * that session's token (http-api.md), so a JSON body naming a known `operator_sid` carries
 * it, as a real client that owns the session would; tests of the refusal pass their own.
 */
export const sessionTokens = new Map<string, string>()

export const jsonBody = (value: unknown) => {
  const sid = typeof value === "object" && value !== null ? (value as { operator_sid?: unknown }).operator_sid : undefined
  const token = typeof sid === "string" ? sessionTokens.get(sid) : undefined
  return {
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    } as Record<string, string>,
    body: JSON.stringify(value)
  }
}

/** Asserts the envelope shape and returns its code. */
export const envelopeCode = (reply: Reply): string => {
  const body = reply.json
  if (
    typeof body !== "object" || body === null || typeof body.error !== "object" ||
    typeof body.error.code !== "string" || typeof body.error.message !== "string" ||
    !/^[a-z][a-z0-9_]*$/.test(body.error.code) || body.error.message.length === 0
  ) {
    throw new Error(`not an error envelope (status ${reply.status}): ${reply.text}`)
  }
  return body.error.code
}

export const login = async (server: TestServer, desc?: string) => {
  const reply = await request(server, "POST", "/v1/operators", jsonBody(desc === undefined ? {} : { desc }))
  if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`)
  sessionTokens.set(reply.json.sid, reply.json.token)
  return reply.json as { sid: string; token: string }
}

export interface Close {
  readonly code: number
  readonly reason: string
}

/** A connected operator client that records every text frame (parsed) and the close. */
export class Client {
  readonly frames: Array<any> = []
  readonly closed: Promise<Close>
  private waiters: Array<() => void> = []

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      this.frames.push(isBinary ? { binary: true } : JSON.parse(data.toString()))
      for (const wake of this.waiters.splice(0)) wake()
    })
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        resolve({ code, reason: reason.toString() })
        for (const wake of this.waiters.splice(0)) wake()
      })
    })
    ws.on("error", () => {})
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame))
  }

  /** The first recorded frame (from `from` on) matching `predicate`. */
  async waitFor(predicate: (frame: any) => boolean, timeoutMs = 5000, from = 0): Promise<any> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.slice(from).find(predicate)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** The next frame after the ones seen so far. */
  async next(timeoutMs = 5000): Promise<any> {
    const from = this.frames.length
    return this.waitFor(() => true, timeoutMs, from)
  }

  close(): void {
    this.ws.close(1000)
  }
}

export const connect = (server: TestServer, sid: string, token: string, options: { autoPong?: boolean } = {}) =>
  new Promise<Client>((resolve, reject) => {
    const ws = new WebSocket(`${server.wsUrl}/v1/operators/${sid}/ws`, {
      headers: bearer(token),
      autoPong: options.autoPong ?? true
    })
    const client = new Client(ws)
    ws.once("open", () => resolve(client))
    ws.once("unexpected-response", (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)))
    ws.once("error", reject)
  })

/** Attempt an upgrade that should be refused: the HTTP status and the body, and whether it opened. */
export const refusedUpgrade = (server: TestServer, path: string, headers: Record<string, string>) =>
  new Promise<{ status: number; body: string; opened: boolean }>((resolve, reject) => {
    const ws = new WebSocket(server.wsUrl + path, { headers })
    ws.once("open", () => {
      ws.terminate()
      resolve({ status: 101, body: "", opened: true })
    })
    ws.once("unexpected-response", (req, res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (body += chunk))
      res.on("end", () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body, opened: false })
      })
    })
    ws.once("error", reject)
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
