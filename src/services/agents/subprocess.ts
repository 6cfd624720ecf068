/**
 * Subprocess agents (docs/blueprints.md, agents: subprocess): argv without a shell, the input as
 * text on stdin, stdout parsed like a worker submit, exit 0 = passed else blocked.
 *
 * The child is started in its own process group and the whole group gets SIGKILL when the
 * step is interrupted (run cancelled) or its timeout passes; the interruption waits for the
 * child's exit, so nothing outlives the step.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { Duration, Effect, Option } from "effect"
import type { SubprocessAgent } from "../../protocol/blueprint.js"
import { inputAsText, parseResultText } from "../parseResult.js"
import { blocked, failed, type Outcome, passed } from "./outcome.js"

/** Cap on captured stdout/stderr; the rest is dropped (the data path is for big payloads). */
const MAX_CAPTURE = 16 * 1024 * 1024

interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly pid: number | undefined
  readonly stdout: string
  readonly stderr: string
}

const killGroup = (child: ChildProcess) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {
    try {
      child.kill("SIGKILL")
    } catch {
      // already gone
    }
  }
}

/**
 * Children still running. The run's interruption kills each group; this is the backstop
 * for an exit that does not wait for that (a forced shutdown): no agent outlives the server.
 */
const running = new Set<ChildProcess>()
let exitHookInstalled = false
const track = (child: ChildProcess) => {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once("exit", () => running.forEach(killGroup))
  }
  running.add(child)
  child.once("exit", () => running.delete(child))
}

const capture = (stream: NodeJS.ReadableStream | null, into: Array<Buffer>) => {
  let size = 0
  stream?.on("data", (chunk: Buffer) => {
    if (size >= MAX_CAPTURE) return
    size += chunk.length
    into.push(chunk)
  })
}

const execute = (agent: SubprocessAgent, input: unknown): Effect.Effect<Finished, string> =>
  Effect.async<Finished, string>((resume) => {
    const [file, ...args] = agent.command
    if (file === undefined) {
      resume(Effect.fail("the command is empty"))
      return
    }
    const withStdin = agent.stdin ?? true
    let child: ChildProcess
    try {
      child = spawn(file, args, {
        cwd: agent.cwd ?? process.cwd(),
        env: { ...process.env, ...agent.env },
        stdio: [withStdin ? "pipe" : "ignore", "pipe", "pipe"],
        detached: true
      })
    } catch (e) {
      resume(Effect.fail(`cannot start ${file}: ${String(e)}`))
      return
    }
    track(child)
    let done = false
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    capture(child.stdout, out)
    capture(child.stderr, err)
    child.once("error", (e) => {
      if (done) return
      done = true
      resume(Effect.fail(`cannot start ${file}: ${e.message}`))
    })
    child.once("close", (code, signal) => {
      if (done) return
      done = true
      resume(Effect.succeed({
        code,
        signal,
        pid: child.pid,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8")
      }))
    })
    if (withStdin && child.stdin !== null) {
      // a child that does not read stdin closes the pipe early; that is not an error of the step
      child.stdin.on("error", () => {})
      child.stdin.end(inputAsText(input))
    }
    // canceler: kill the group and wait until the child has really exited
    return Effect.async<void>((exited) => {
      done = true
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
        exited(Effect.void)
        return
      }
      child.once("exit", () => exited(Effect.void))
      killGroup(child)
    })
  })

const toOutcome = (f: Finished): Outcome => {
  const value = parseResultText(f.stdout)
  const stats = { exit_code: f.code, ...(f.pid !== undefined ? { pid: f.pid } : {}) }
  if (f.code === 0) return passed(value, stats)
  const why = f.code !== null ? `exit code ${f.code}` : `killed by ${f.signal ?? "a signal"}`
  const stderr = f.stderr.trim()
  return blocked(value, stderr === "" ? why : `${why}: ${stderr}`, stats)
}

export const runSubprocess = (agent: SubprocessAgent, input: unknown): Effect.Effect<Outcome> => {
  const run = execute(agent, input).pipe(
    Effect.map(toOutcome),
    Effect.catchAll((message) => Effect.succeed(failed(message)))
  )
  if (agent.timeout_ms === undefined) return run
  return run.pipe(
    Effect.timeoutOption(Duration.millis(agent.timeout_ms)),
    Effect.map(Option.getOrElse(() => failed(`timed out after ${agent.timeout_ms} ms; the process was killed`)))
  )
}
