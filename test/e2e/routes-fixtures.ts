/**
 * Shared fixtures of the route-level tests (routes-*.test.ts): blueprints, a server with
 * engine settings and a chosen storage, an operator step handed out over a real socket,
 * raw HTTP for bodies fetch cannot send, and an SSE reader.
 */
import { HttpServer } from "@effect/platform"
import { Context, Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { request as httpRequest } from "node:http"
import { AppLive, type EngineOptions, type Repositories } from "../../src/layers/App.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import type { ServerConfigInput } from "../../src/layers/ServerConfig.js"
import { Sessions } from "../../src/services/Sessions.js"
import { bearer, type Client, connect, jsonBody, login, request, type TestServer } from "./helpers.js"

export const UNKNOWN_RUN = `R-${"0".repeat(16)}`
export const UNKNOWN_TASK = `T-${"0".repeat(16)}`
export const UNKNOWN_SID = `S-${"0".repeat(32)}`

/** One identity step: `$` → `$.out`. */
export const identityBlueprint = (extra: Record<string, unknown> = {}) => ({
  agents: [{ name: "id", kind: "builtin", fn: "identity" }],
  flow: { kind: "step", ref: "id", in: { op: "path", at: "$" }, out: "$.out" },
  ...extra
})

/** Two identity steps in a row: `$.a` → `$.b` → `$.c`. */
export const twoStepBlueprint = () => ({
  agents: [{ name: "id", kind: "builtin", fn: "identity" }],
  flow: {
    kind: "seq",
    children: [
      { kind: "step", ref: "id", in: { op: "path", at: "$.a" }, out: "$.b" },
      { kind: "step", ref: "id", in: { op: "path", at: "$.b" }, out: "$.c" }
    ]
  }
})

/** One builtin sleep of `input.nap.ms`. */
export const sleepBlueprint = () => ({
  agents: [{ name: "nap", kind: "builtin", fn: "sleep" }],
  flow: { kind: "step", ref: "nap", in: { op: "path", at: "$.nap" }, out: "$.slept" }
})

/** One operator step in seat `main`; `agent` overrides fields of the agent. */
export const operatorBlueprint = (agent: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  operators: [{ name: "main" }],
  agents: [{ name: "coder", kind: "operator", operator: "main", ...agent }],
  flow: { kind: "step", ref: "coder", in: { op: "path", at: "$.task" }, out: "$.result" },
  ...extra
})

export const launch = async (server: TestServer, body: Record<string, unknown>) => {
  const reply = await request(server, "POST", "/v1/tasks", jsonBody(body))
  if (reply.status !== 202) throw new Error(`launch failed: ${reply.status} ${reply.text}`)
  return reply.json as { task_id: string; run_id: string; status: "running" }
}

/** Polls `GET /v1/runs/:id` until `pred` holds. */
export const waitRun = async (
  server: TestServer,
  runId: string,
  pred: (run: any) => boolean = (run) => run.status !== "running",
  timeoutMs = 5000
): Promise<any> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const reply = await request(server, "GET", `/v1/runs/${runId}`)
    if (reply.status !== 200) throw new Error(`GET run: ${reply.status} ${reply.text}`)
    if (pred(reply.json)) return reply.json
    if (Date.now() > deadline) throw new Error(`run ${runId} did not get there: ${reply.text}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface Server extends TestServer {
  readonly runtime: ManagedRuntime.ManagedRuntime<any, unknown>
}

/** A server with engine settings and, optionally, a storage that outlives it. */
export const startApp = async (
  input: ServerConfigInput = {},
  engine: EngineOptions = {},
  storage?: Layer.Layer<Repositories>
): Promise<Server> => {
  const layer = AppLive({ host: "127.0.0.1", port: 0, memory: true, ...input }, engine, storage).pipe(
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
  const runtime = ManagedRuntime.make(layer)
  const { port, sessions } = await runtime.runPromise(Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    return { port: server.address._tag === "TcpAddress" ? server.address.port : 0, sessions: yield* Sessions }
  }))
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    sessions,
    runtime,
    run: (effect) => Effect.runPromise(effect),
    close: () => runtime.dispose()
  }
}

/** A store that outlives servers, like a database file: build it once, hand it to each server. */
export const durableStorage = async () => {
  const context = await Effect.runPromise(Effect.scoped(Layer.build(MemoryStorage)))
  return { context, layer: Layer.succeedContext(context) as Layer.Layer<Repositories> }
}

export const service = <I, S>(context: Context.Context<any>, tag: Context.Tag<I, S>): S => Context.get(context, tag)

export interface HandedOut {
  readonly sid: string
  readonly token: string
  readonly client: Client
  readonly task_id: string
  readonly run_id: string
  readonly spawn: any
  /** The step id (`ST-…`). */
  readonly step: string
  readonly handle: string
  readonly capability: string
}

/** A session connected over a real socket, a run seated in it, and the spawn it received. */
export const handOut = async (
  server: TestServer,
  blueprint: Record<string, unknown> = operatorBlueprint(),
  input: unknown = { task: "write it" }
): Promise<HandedOut> => {
  const { sid, token } = await login(server, "routes test")
  const client = await connect(server, sid, token)
  const launched = await launch(server, { blueprint, input, operator_sid: sid })
  const spawn = await client.waitFor((f) => f.type === "spawn" && f.run_id === launched.run_id)
  return {
    sid,
    token,
    client,
    task_id: launched.task_id,
    run_id: launched.run_id,
    spawn,
    step: spawn.task_id,
    handle: spawn.worker_handle,
    capability: spawn.capability_token
  }
}

/** The operator's reply that ends a spawn. */
export const spawnAck = (out: HandedOut, value: unknown = null) =>
  out.client.send({ type: "spawn_ack", req_id: out.spawn.req_id, value, ok: true })

export const workerPost = (
  server: TestServer,
  path: string,
  credential: string,
  body: string,
  contentType = "text/plain"
) => request(server, "POST", path, { headers: { ...bearer(credential), "content-type": contentType }, body })

/**
 * A POST through node:http that declares `declared` bytes but sends only `sent`: the answer
 * must come from the header alone, without the body being read whole.
 */
export const declaredPost = (
  server: TestServer,
  path: string,
  headers: Record<string, string>,
  declared: number,
  sent = 1024
) =>
  new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest(server.url + path, {
      method: "POST",
      headers: { ...headers, "content-length": String(declared) }
    })
    req.on("response", (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers })
      })
    })
    req.on("error", reject)
    // the rest of the declared body never comes: only an answer from the header can end this
    req.write(Buffer.alloc(sent, 0x61))
  })

export interface SseEvent {
  readonly event: string
  readonly id: string
  readonly data: any
}

/** Parses a text/event-stream body (comment lines ignored). */
export const parseSse = (text: string): Array<SseEvent> =>
  text.split("\n\n").filter((block) => block.trim() !== "").flatMap((block) => {
    const fields: Record<string, string> = {}
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue
      const colon = line.indexOf(":")
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "")
    }
    return fields.event === undefined ? [] : [{ event: fields.event, id: fields.id ?? "", data: JSON.parse(fields.data ?? "null") }]
  })

/** Reads an SSE response to its end (the server ends it after run_finished), bounded in time. */
export const readSse = async (server: TestServer, runId: string, headers: Record<string, string> = {}, timeoutMs = 5000) => {
  const response = await fetch(`${server.url}/v1/runs/${runId}/events`, {
    headers,
    signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await response.text()
  return { status: response.status, contentType: response.headers.get("content-type"), text, events: parseSse(text) }
}

export { bearer, jsonBody, login, request }
