/**
 * A scripted operator, as an outside program sees the server: it logs in over HTTP
 * (`POST /v1/operators`), holds a real `ws` socket on `/v1/operators/:sid/ws`, records
 * every frame of every connection it ever had, and answers requests on command.
 *
 * Also here: the other outside-client helpers the scenarios share (launching tasks,
 * polling runs, reading the SSE event stream, a raw upgrade request for S2).
 *
 * Every wait is bounded; a timeout throws with what was seen so far.
 */
import { randomBytes } from "node:crypto"
import { type Agent, request as httpRequest } from "node:http"
import { WebSocket } from "ws"
import { bearer, jsonBody, request, type Reply, sessionTokens, type TestServer } from "../helpers.js"

export const WAIT_MS = 5000

export interface Close {
  readonly code: number
  readonly reason: string
}

export interface Recorded {
  /** Index of the connection (0 = first socket) the frame arrived on. */
  readonly conn: number
  readonly frame: any
}

interface Connection {
  readonly ws: WebSocket
  readonly closed: Promise<Close>
}

/** Opens one socket; resolves once it is open, rejects with the HTTP status when refused. */
const openSocket = (server: TestServer, sid: string, token: string, onFrame: (frame: any) => void) =>
  new Promise<Connection>((resolve, reject) => {
    const ws = new WebSocket(`${server.wsUrl}/v1/operators/${sid}/ws`, { headers: bearer(token) })
    ws.on("message", (data, isBinary) => {
      let frame: any
      try {
        frame = isBinary ? { binary: true } : JSON.parse(data.toString())
      } catch {
        frame = { unparsable: data.toString() }
      }
      onFrame(frame)
    })
    const closed = new Promise<Close>((res) => {
      ws.on("close", (code, reason) => res({ code, reason: reason.toString() }))
    })
    ws.on("error", () => {})
    ws.once("open", () => resolve({ ws, closed }))
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)))
    ws.once("error", reject)
  })

export class ScriptedOperator {
  /** Every frame received, over every connection, in arrival order. */
  readonly log: Array<Recorded> = []
  private readonly connections: Array<Connection> = []
  private waiters: Array<() => void> = []

  private constructor(readonly server: TestServer, readonly sid: string, readonly token: string) {}

  /** `POST /v1/operators` then (unless `connect: false`) the socket. */
  static async login(
    server: TestServer,
    options: { readonly desc?: string; readonly connect?: boolean } = {}
  ): Promise<ScriptedOperator> {
    const reply = await request(server, "POST", "/v1/operators", jsonBody(options.desc === undefined ? {} : { desc: options.desc }))
    if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`)
    sessionTokens.set(reply.json.sid, reply.json.token)
    const op = new ScriptedOperator(server, reply.json.sid, reply.json.token)
    if (options.connect !== false) await op.connect()
    return op
  }

  get frames(): Array<any> {
    return this.log.map((r) => r.frame)
  }

  get current(): Connection {
    const c = this.connections.at(-1)
    if (c === undefined) throw new Error("never connected")
    return c
  }

  get ws(): WebSocket {
    return this.current.ws
  }

  /** The close of connection `index` (default: the current one). */
  closed(index = this.connections.length - 1): Promise<Close> {
    const c = this.connections[index]
    if (c === undefined) throw new Error(`no connection ${index}`)
    return c.closed
  }

  get connectionCount(): number {
    return this.connections.length
  }

  /** Connect (or reconnect) with the session's own token. */
  async connect(): Promise<void> {
    const conn = this.connections.length
    const c = await openSocket(this.server, this.sid, this.token, (frame) => {
      this.log.push({ conn, frame })
      this.wake()
    })
    c.closed.then(() => this.wake())
    this.connections.push(c)
  }

  /** Drop the current socket without a close handshake (a dead network), and wait until it is gone. */
  async drop(): Promise<Close> {
    const c = this.current
    c.ws.terminate()
    return withTimeout(c.closed, WAIT_MS, "socket did not close after terminate")
  }

  /** Drop, then connect again with the same token. */
  async reconnect(): Promise<void> {
    await this.drop()
    await this.connect()
  }

  /** A polite close (1000). */
  async close(): Promise<void> {
    const c = this.connections.at(-1)
    if (c === undefined || c.ws.readyState === WebSocket.CLOSED) return
    c.ws.close(1000)
    await withTimeout(c.closed, WAIT_MS, "socket did not close").catch(() => c.ws.terminate())
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame))
  }

  sendBinary(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true })
  }

  hookAck(reqId: string, ok = true, reason?: string): void {
    this.send({ type: "hook_ack", req_id: reqId, ok, ...(reason === undefined ? {} : { reason }) })
  }

  spawnAck(reqId: string, options: { value?: unknown; ok?: boolean; error?: string; stats?: unknown } = {}): void {
    this.send({ type: "spawn_ack", req_id: reqId, ...options })
  }

  spawnHalt(reqId: string, options: { value?: unknown; reason?: string } = {}): void {
    this.send({ type: "spawn_halt", req_id: reqId, ...options })
  }

  answer(reqId: string, value: unknown): void {
    this.send({ type: "answer", req_id: reqId, value })
  }

  /** Current log length: pass it as `from` to only look at frames that arrive later. */
  mark(): number {
    return this.log.length
  }

  /** The first recorded frame from index `from` on that matches. */
  async waitFor(predicate: (frame: any, rec: Recorded) => boolean, options: { from?: number; timeoutMs?: number } = {}): Promise<any> {
    const from = options.from ?? 0
    const timeoutMs = options.timeoutMs ?? WAIT_MS
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.log.slice(from).find((r) => predicate(r.frame, r))
      if (found !== undefined) return found.frame
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.log.slice(from))}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** The first frame of `type` (from `from` on), optionally also matching `where`. */
  waitType(type: string, options: { from?: number; timeoutMs?: number; where?: (frame: any) => boolean } = {}) {
    const where = options.where ?? (() => true)
    return this.waitFor((f) => f.type === type && where(f), options)
  }

  /** Frames of `type` recorded so far (from `from` on). */
  ofType(type: string, from = 0): Array<any> {
    return this.log.slice(from).filter((r) => r.frame.type === type).map((r) => r.frame)
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }
}

export const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms)
    promise.then(
      (a) => {
        clearTimeout(timer)
        resolve(a)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })

// ---------------------------------------------------------------------------------------
// Blueprints, tasks, runs

/** One `operator` agent `worker` in seat `lead`; the step reads the whole input and writes `$.answer`. */
export const oneStepBlueprint = (options: {
  readonly id?: string
  readonly mainAi?: boolean
  readonly systemPrompt?: string
  readonly verdicts?: ReadonlyArray<string>
} = {}) => ({
  ...(options.id === undefined ? {} : { id: options.id }),
  description: "one operator step",
  ...(options.mainAi === true ? { middleware: ["main_ai"] } : {}),
  operators: [{ name: "lead" }],
  agents: [{
    name: "worker",
    kind: "operator",
    operator: "lead",
    ...(options.systemPrompt === undefined ? {} : { system_prompt: options.systemPrompt }),
    ...(options.verdicts === undefined ? {} : { verdicts: options.verdicts })
  }],
  flow: { kind: "step", ref: "worker", in: { op: "path", at: "$" }, out: "$.answer" }
})

/**
 * One `operator` agent `w` in seat `lead` run over `$.items` by a fanout (`join: "all"`): one
 * step per item, each reading its item and writing `$.r`; the joined results go to `$.joined`.
 */
export const fanoutBlueprint = (options: { readonly mainAi?: boolean } = {}) => ({
  ...(options.mainAi === true ? { middleware: ["main_ai"] } : {}),
  operators: [{ name: "lead" }],
  agents: [{ name: "w", kind: "operator", operator: "lead" }],
  flow: {
    kind: "fanout",
    items: { op: "path", at: "$.items" },
    bind: "$.item",
    join: "all",
    out: "$.joined",
    body: { kind: "step", ref: "w", in: { op: "path", at: "$.item" }, out: "$.r" }
  }
})

export interface Launched {
  readonly task_id: string
  readonly run_id: string
  readonly status: string
}

/** `POST /v1/tasks`; throws unless 202. */
export const launch = async (
  server: TestServer,
  body: { blueprint: unknown; input?: unknown; operator_sid?: string; wait?: boolean }
): Promise<Launched> => {
  const reply = await request(server, "POST", "/v1/tasks", jsonBody(body))
  if (reply.status !== 202) throw new Error(`POST /v1/tasks: expected 202, got ${reply.status} ${reply.text}`)
  return reply.json
}

export const getRun = async (server: TestServer, runId: string): Promise<Reply> =>
  request(server, "GET", `/v1/runs/${runId}`)

export const TERMINAL = ["done", "failed", "cancelled", "interrupted"]

/** Poll `GET /v1/runs/:id` until its status satisfies `until` (default: terminal). */
export const awaitRun = async (
  server: TestServer,
  runId: string,
  options: { until?: (status: string) => boolean; timeoutMs?: number } = {}
): Promise<any> => {
  const until = options.until ?? ((s: string) => TERMINAL.includes(s))
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS)
  let last: Reply | undefined
  for (;;) {
    last = await getRun(server, runId)
    if (last.status === 200 && until(last.json.status)) return last.json
    if (Date.now() > deadline) {
      throw new Error(`run ${runId} did not reach the wanted status; last: ${last.status} ${last.text}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

// ---------------------------------------------------------------------------------------
// Server-sent events

export interface SseEvent {
  readonly event: string | undefined
  readonly id: string | undefined
  readonly data: any
  readonly raw: string
}

export interface SseRead {
  readonly status: number
  readonly contentType: string | null
  readonly events: Array<SseEvent>
  /** The body as text when the answer was not a stream (an error envelope). */
  readonly text?: string
  /** How reading stopped: the server ended the stream, `stopAt` matched, or the wait ran out. */
  readonly end?: "closed" | "stopped" | "timeout"
}

/** Parse complete SSE blocks out of `buffer`; returns the rest. */
const parseSse = (buffer: string, out: Array<SseEvent>): string => {
  const normalized = buffer.replace(/\r\n/g, "\n")
  const blocks = normalized.split("\n\n")
  const rest = blocks.pop() ?? ""
  for (const block of blocks) {
    let event: string | undefined
    let id: string | undefined
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue
      const colon = line.indexOf(":")
      const field = colon === -1 ? line : line.slice(0, colon)
      let value = colon === -1 ? "" : line.slice(colon + 1)
      if (value.startsWith(" ")) value = value.slice(1)
      if (field === "event") event = value
      else if (field === "id") id = value
      else if (field === "data") data.push(value)
    }
    if (data.length === 0 && event === undefined) continue
    const rawData = data.join("\n")
    let parsed: any = rawData
    try {
      parsed = JSON.parse(rawData)
    } catch {
      // leave as text
    }
    out.push({ event, id, data: parsed, raw: block })
  }
  return rest
}

/** The type of an SSE event: its `event:` line, else the `type` of its data. */
export const sseType = (e: SseEvent): string | undefined =>
  e.event ?? (typeof e.data === "object" && e.data !== null ? e.data.type : undefined)

/**
 * `GET /v1/runs/:id/events`, read until an event satisfies `stopAt` (default `run_finished`),
 * the stream ends, or the time is up (then it returns what it has; the caller asserts).
 */
export const readEvents = async (
  server: TestServer,
  runId: string,
  options: { stopAt?: (e: SseEvent) => boolean; timeoutMs?: number } = {}
): Promise<SseRead> => {
  const stopAt = options.stopAt ?? ((e: SseEvent) => sseType(e) === "run_finished")
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? WAIT_MS)
  const events: Array<SseEvent> = []
  try {
    const response = await fetch(`${server.url}/v1/runs/${runId}/events`, {
      headers: { accept: "text/event-stream" },
      signal: controller.signal
    })
    const contentType = response.headers.get("content-type")
    if (!(contentType ?? "").startsWith("text/event-stream")) {
      return { status: response.status, contentType, events, text: await response.text() }
    }
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    let end: SseRead["end"] = "timeout"
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) {
          end = "closed"
          break
        }
        buffer = parseSse(buffer + decoder.decode(value, { stream: true }), events)
        if (events.some(stopAt)) {
          end = "stopped"
          break
        }
      }
      parseSse(buffer + "\n\n", events)
    } catch (e) {
      if (!controller.signal.aborted) throw e
    } finally {
      controller.abort()
    }
    return { status: response.status, contentType, events, end }
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------
// A raw upgrade request (S2): the status line the server answers, and whether it switched protocols

export const rawUpgrade = (
  server: TestServer,
  path: string,
  headers: Record<string, string>,
  agent?: Agent
): Promise<{ status: number; body: string; upgraded: boolean; headers: Record<string, unknown> }> =>
  new Promise((resolve, reject) => {
    // by default a fresh connection per probe (no keep-alive pool)
    const req = httpRequest(server.url + path, {
      method: "GET",
      agent: agent ?? false,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        "sec-websocket-version": "13",
        ...headers
      }
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no answer to the upgrade request on ${path}`))
    }, WAIT_MS)
    req.on("upgrade", (res, socket) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ status: res.statusCode ?? 0, body: "", upgraded: true, headers: res.headers })
    })
    req.on("response", (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, body, upgraded: false, headers: res.headers })
      })
    })
    req.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    req.end()
  })
