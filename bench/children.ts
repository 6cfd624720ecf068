/**
 * Child processes of the bench: the client process (`client.mjs`, over IPC) and servers
 * started as a user starts them (their first `http://127.0.0.1:<port>` output line gives
 * the port). Each is stopped at the end and killed if it has not exited within 3 s.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"

type Reply = Record<string, unknown> & { readonly op: string; readonly seq?: number; readonly message?: string }

const stopChild = async (child: ChildProcess, polite: () => void) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  polite()
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000)
  await exited
  clearTimeout(timer)
}

export interface Client {
  readonly pid: number
  /** The child's first message (`{op: "ready", ...}`). */
  readonly ready: Record<string, unknown>
  /** Send one op and wait for its reply; rejects on `failed` or after `timeoutMs`. */
  readonly call: <R = Record<string, unknown>>(op: string, payload?: Record<string, unknown>, timeoutMs?: number) => Promise<R>
  readonly stop: () => Promise<void>
}

export const startClient = (log?: (line: string) => void): Promise<Client> =>
  // plain Node: no tsx loader, no --cpu-prof of the parent
  startIpcChild(new URL("./client.mjs", import.meta.url), [], log)

/** A forked Node process speaking the {op, seq} → {op: "done" | "failed", seq} protocol over IPC. */
export const startIpcChild = async (
  file: URL,
  execArgv: ReadonlyArray<string>,
  log?: (line: string) => void
): Promise<Client> => {
  const child = fork(file, [], {
    execArgv: [...execArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  let seq = 0
  const waiters = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>()
  child.on("message", (m: Reply) => {
    if (m.op === "log") return log?.(`client: ${String(m.line)}`)
    const w = m.seq === undefined ? undefined : waiters.get(m.seq)
    if (w === undefined) return
    waiters.delete(m.seq!)
    if (m.op === "failed") w.reject(new Error(`client: ${m.message}`))
    else w.resolve(m)
  })
  child.once("exit", (code) => {
    for (const w of waiters.values()) w.reject(new Error(`client process exited (${code})`))
    waiters.clear()
  })
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file.pathname} did not start within 30 s`)), 30_000)
    child.once("message", (m: Record<string, unknown>) => (clearTimeout(timer), resolve(m)))
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`${file.pathname} exited (${code}) at start`))))
  })
  const call = <R,>(op: string, payload: Record<string, unknown> = {}, timeoutMs = 60_000) =>
    new Promise<R>((resolve, reject) => {
      const n = ++seq
      const timer = setTimeout(() => {
        waiters.delete(n)
        reject(new Error(`client: no reply to ${op} within ${timeoutMs} ms`))
      }, timeoutMs)
      waiters.set(n, {
        resolve: (r) => (clearTimeout(timer), resolve(r as R)),
        reject: (e) => (clearTimeout(timer), reject(e))
      })
      child.send({ ...payload, op, seq: n })
    })
  return { pid: child.pid!, ready, call, stop: () => stopChild(child, () => child.disconnect()) }
}

export interface ServerProcess {
  readonly pid: number
  readonly port: number
  readonly url: string
  /** Resident set size now, from /proc (bytes). */
  readonly rss: () => Promise<number>
  readonly stop: () => Promise<void>
}

/** `node <args>`, waiting for a line naming `http://127.0.0.1:<port>` on stdout or stderr. */
export const startServerProcess = async (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly execArgv?: ReadonlyArray<string> } = {}
): Promise<ServerProcess> => {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), ...args], {
    cwd: new URL("..", import.meta.url).pathname,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not report a port within 30 s: ${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000)
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (m !== null) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening: ${output}`)))
  })
  // keep draining so a chatty server never blocks on a full pipe
  child.stdout.resume()
  child.stderr.resume()
  const rss = async () => {
    const { readFile } = await import("node:fs/promises")
    const status = await readFile(`/proc/${child.pid}/status`, "utf8")
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)
    return kb === null ? Number.NaN : Number(kb[1]) * 1024
  }
  return {
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    rss,
    stop: () => stopChild(child, () => child.kill("SIGTERM"))
  }
}
