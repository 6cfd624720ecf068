/**
 * `swarmgate serve` as a real child process over a data directory: started, found by its
 * listening line, killed (SIGKILL) or stopped (SIGTERM) and started again on the same files.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { TestServer } from "../e2e/helpers.js"

const bin = fileURLToPath(new URL("../../bin/swarmgate.mjs", import.meta.url))

export interface ChildServer {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exit: Promise<number | null>
  /** What the HTTP / socket helpers of test/e2e need (they only read the URLs). */
  readonly server: TestServer
}

export const startChild = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<ChildServer> => {
  const child = spawn(process.execPath, [bin, "serve", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let output = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const deadline = Date.now() + 30_000
  for (;;) {
    const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output)
    if (match) {
      const url = match[1]!
      const port = Number(match[2])
      const server = {
        url,
        wsUrl: url.replace("http", "ws"),
        port,
        sessions: undefined as never,
        run: () => Promise.reject(new Error("not in this process")),
        close: () => Promise.resolve()
      } satisfies TestServer
      return { child, output: () => output, exit, server }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`no listening line (exit ${child.exitCode}); output so far:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** SIGKILL, and wait until the process is gone. */
export const kill = async (running: ChildServer): Promise<void> => {
  running.child.kill("SIGKILL")
  await running.exit
}

/** SIGTERM; the exit code. */
export const stop = async (running: ChildServer): Promise<number | null> => {
  running.child.kill("SIGTERM")
  return running.exit
}

/** Run a command to completion (no listening line expected): exit code and output. */
export const runToExit = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
    let output = ""
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
