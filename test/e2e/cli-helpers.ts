/**
 * The command line as users run it: `bin/swarmgate.mjs` as a child process, a server
 * started the same way (`serve --memory --port 0`), stdout and stderr kept apart.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../../bin/swarmgate.mjs", import.meta.url))
export const repo = fileURLToPath(new URL("../..", import.meta.url))

/** CLI commands are child processes that each load TypeScript: generous under a loaded machine. */
export const CLI_TIMEOUT = 120_000

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Promise<Finished>
}

export const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Running => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repo,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c))
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c))
  const exit = new Promise<Finished>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  )
  return { child, stdout: () => stdout, stderr: () => stderr, exit }
}

/** Runs a command to its end; stdin is closed at once unless `input` is given. */
export const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}, input?: string) => {
  const running = start(args, env)
  running.child.stdin!.end(input ?? "")
  return running.exit
}

export const waitFor = async (what: () => string, pattern: RegExp, running: Running, timeoutMs = CLI_TIMEOUT) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const match = pattern.exec(what())
    if (match) return match
    if (running.child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${running.stdout()}\nstderr: ${running.stderr()}`)
}

export interface ServeProcess {
  readonly url: string
  readonly stop: () => Promise<void>
}

/** `swarmgate serve --memory --port 0`, as a user starts it; its URL from the listening line. */
export const serveProcess = async (): Promise<ServeProcess> => {
  const running = start(["serve", "--memory", "--port", "0"])
  const both = () => running.stdout() + running.stderr()
  const match = await waitFor(both, /listening on (http:\/\/[^\s;,]+)/, running)
  return {
    url: match[1]!,
    stop: async () => {
      running.child.kill("SIGTERM")
      await running.exit
    }
  }
}

/** One line on stderr, no stack trace. */
export const oneLine = (text: string) => {
  const lines = text.trim().split("\n")
  return lines.length === 1 && !/\n\s+at /.test(text) && !text.includes("    at ")
}
