// The bench's client process: plain Node plus `ws` and `socket.io-client`, started with
// child_process.fork and driven over IPC. One process serves every contender of a
// benchmark, so the client's cost is the same for all of them.
//
// Connections (op "connect"): kind "ws" or "sio"; mode
//   "answer"   answers every `ask` at once ({type:"answer", req_id, value: question});
//   "hold"     keeps asks until op "release" (P3: requests outstanding at once);
//   "operator" plays an automated operator and its worker for a full step (P2):
//              hook_before → hook_ack ok; spawn → GET prompt, POST submit, spawn_ack.
// Op "load": a closed loop of `POST <url>` with `{question}` from this process (P1b).
// Op "many": open `count` ws connections, one per {url, token} (P3).
// Every connection must be to loopback; the process exits when the parent goes away and
// after 5 minutes at most.
import { Agent, request as httpRequest } from "node:http"
import { io as sioConnect } from "socket.io-client"
import { WebSocket } from "ws"

const hardCap = setTimeout(() => process.exit(2), 5 * 60_000)
hardCap.unref()
process.on("disconnect", () => process.exit(0))

const send = (message) => {
  if (process.connected) process.send(message)
}
const loopback = /^(ws|http):\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/
const sockets = []
const held = []
// spawn frames seen outside operator mode (P1b takes the worker credential from one)
const spawns = []
let answered = 0
let other = 0
let received = 0

const onFrame = (mode, ws, frame) => {
  received += 1
  if (frame.type === "ask") {
    if (mode === "hold") return void held.push({ ws, frame })
    answered += 1
    ws.send(JSON.stringify({ type: "answer", req_id: frame.req_id, value: frame.question }))
  } else if (mode === "operator" && frame.type === "hook_before") {
    ws.send(JSON.stringify({ type: "hook_ack", req_id: frame.req_id, ok: true }))
  } else if (mode === "operator" && frame.type === "spawn") {
    void runWorker(ws, frame)
  } else if (frame.type === "spawn") {
    spawns.push(frame)
  } else if (frame.type !== "hook_after") {
    other += 1
  }
}

// The sub-agent of a spawn: fetch the prompt, submit a result, then the operator acks.
const runWorker = async (ws, spawn) => {
  const base = /^base_url: (.+)$/m.exec(spawn.directive)?.[1]?.trim()
  const auth = { authorization: `Bearer ${spawn.worker_handle ?? spawn.capability_token}` }
  try {
    const prompt = await call("GET", `${base}/v1/worker/prompt?task_id=${spawn.task_id}`, auth)
    if (prompt.status !== 200) throw new Error(`prompt ${prompt.status} ${prompt.body}`)
    const submitted = await call("POST", `${base}/v1/worker/submit`, { ...auth, "content-type": "text/plain" }, "{\"ok\":1}")
    if (submitted.status !== 200) throw new Error(`submit ${submitted.status} ${submitted.body}`)
    answered += 1
    ws.send(JSON.stringify({ type: "spawn_ack", req_id: spawn.req_id, ok: true }))
  } catch (error) {
    other += 1
    ws.send(JSON.stringify({ type: "spawn_ack", req_id: spawn.req_id, ok: false, error: String(error.message) }))
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 2048 })
const call = (method, url, headers, body) =>
  new Promise((resolve, reject) => {
    if (!loopback.test(url)) return reject(new Error(`refusing a non-loopback url ${url}`))
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      const chunks = []
      res.on("data", (c) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(body)
  })

const connect = ({ id, url, headers = {}, kind = "ws", mode = "answer" }) =>
  new Promise((resolve, reject) => {
    if (!loopback.test(url)) return reject(new Error(`refusing a non-loopback url ${url}`))
    if (kind === "sio") {
      const socket = sioConnect(url, { transports: ["websocket"], reconnection: false })
      socket.on("ask", (frame, ack) => {
        received += 1
        answered += 1
        ack({ type: "answer", req_id: frame.req_id, value: frame.question })
      })
      socket.once("connect", () => resolve(sockets.push({ close: () => socket.close() })))
      socket.once("connect_error", (e) => reject(new Error(`${id}: ${e.message}`)))
      return
    }
    const ws = new WebSocket(url, { headers, perMessageDeflate: false })
    ws.on("message", (data, isBinary) => {
      if (isBinary) return void (other += 1)
      onFrame(mode, ws, JSON.parse(data.toString()))
    })
    ws.once("open", () => resolve(sockets.push({ close: () => ws.close(1000) })))
    ws.once("unexpected-response", (_req, res) => reject(new Error(`${id}: HTTP ${res.statusCode}`)))
    ws.on("error", (e) => reject(new Error(`${id}: ${e.message}`)))
  })

const percentile = (sorted, p) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]

// Closed loop over HTTP: `inFlight` workers, each posting as soon as its last answer came.
const load = async ({ url, token, inFlight, total, maxMs }) => {
  const latencies = new Float64Array(total)
  let issued = 0
  let completed = 0
  let failed = 0
  const headers = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }
  const start = performance.now()
  const deadline = start + maxMs
  const worker = async () => {
    while (issued < total && performance.now() < deadline) {
      const n = issued++
      const t0 = performance.now()
      try {
        const reply = await call("POST", url, headers, JSON.stringify({ question: { q: "bench", n } }))
        if (reply.status === 200) latencies[completed++] = performance.now() - t0
        else if (failed++ === 0) send({ op: "log", line: `load: HTTP ${reply.status} ${reply.body.slice(0, 200)}` })
      } catch (e) {
        if (failed++ === 0) send({ op: "log", line: `load: ${e.message}` })
      }
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsedMs = performance.now() - start
  const sorted = latencies.slice(0, completed).sort()
  return {
    inFlight,
    completed,
    failed,
    lost: 0,
    elapsedMs,
    reqPerSec: completed / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    timeCapped: issued < total
  }
}

// P3: many sessions' sockets, opened a batch at a time so the server's accept queue holds.
const many = async ({ targets, mode, batch = 200 }) => {
  for (let i = 0; i < targets.length; i += batch) {
    await Promise.all(targets.slice(i, i + batch).map((t, j) =>
      connect({ id: `many-${i + j}`, url: t.url, headers: { authorization: `Bearer ${t.token}` }, mode })
    ))
  }
}

const release = () => {
  for (const { ws, frame } of held.splice(0)) {
    answered += 1
    ws.send(JSON.stringify({ type: "answer", req_id: frame.req_id, value: frame.question }))
  }
}

const handlers = {
  connect: (m) => connect(m).then(() => ({})),
  load: (m) => load(m),
  many: (m) => many(m).then(() => ({ open: sockets.length })),
  stats: async () => ({ answered, other, received, held: held.length, open: sockets.length }),
  spawns: async () => ({ spawns }),
  release: async () => (release(), {}),
  closeAll: async () => {
    for (const s of sockets.splice(0)) s.close()
    return {}
  }
}

process.on("message", (message) => {
  const handler = handlers[message?.op]
  if (handler === undefined) return
  handler(message).then(
    (result) => send({ op: "done", seq: message.seq, ...result }),
    (error) => send({ op: "failed", seq: message.seq, message: String(error?.message ?? error) })
  )
})

send({ op: "ready" })
