/** `swarmgate serve --log-format` / `--log-level` and their env fallbacks, as a real child process. */
import { describe, expect, it } from "@effect/vitest"
import { Cause, HashMap, LogLevel } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { prettyLine } from "../../src/layers/Logging.js"

const bin = fileURLToPath(new URL("../../bin/swarmgate.mjs", import.meta.url))

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
  let output = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exit }
}

const waitFor = async (running: ReturnType<typeof start>, pattern: RegExp, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const match = pattern.exec(running.output())
    if (match) return match
    if (running.child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  running.child.kill("SIGKILL")
  throw new Error(`no ${pattern}; output so far:\n${running.output()}`)
}

/** `serve` at debug level: one operator logs in, then SIGTERM (exit 0); the login and the output. */
const loginThenStop = async (env: Record<string, string> = {}) => {
  const running = start(["serve", "--memory", "--port", "0", "--log-level", "debug"], env)
  const base = (await waitFor(running, /listening on (http:\/\/[^\s;,"]+)/))[1]!
  const login = await (await fetch(`${base}/v1/operators`, { method: "POST" })).json() as { sid: string; token: string }
  await waitFor(running, /operator login/)
  running.child.kill("SIGTERM")
  expect(await running.exit).toBe(0)
  const lines = running.output().trim().split("\n")
  return { lines, login, output: running.output() }
}

describe("serve log flags", () => {
  it("--log-format json (here from env SWARMGATE_LOG_FORMAT) writes one JSON object a line, with --log-level", async () => {
    const { lines, login, output } = await loginThenStop({ SWARMGATE_LOG_FORMAT: "json" })
    const entries = lines.map((line) => JSON.parse(line) as { message: string; logLevel: string; annotations: any })
    expect(entries.find((e) => e.message === "operator login")?.annotations).toEqual({ sid: login.sid })
    expect(entries.some((e) => e.message === "shutting down")).toBe(true)
    expect(entries.every((e) => ["DEBUG", "INFO", "WARN", "ERROR"].includes(e.logLevel))).toBe(true)
    expect(output).not.toContain(login.token)
  }, 60_000)

  it("--log-format pretty (the default) prints exactly one line per event, its fields on that line", async () => {
    const { lines, login, output } = await loginThenStop()
    // every line is a whole event: time, level, message (no indented field lines below it)
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO |WARN |ERROR) \S/)
    expect(lines.filter((l) => l.includes("operator login"))).toEqual([expect.stringMatching(
      new RegExp(`INFO  operator login sid=${login.sid}$`)
    )])
    expect(lines.find((l) => l.includes("shutting down"))).toMatch(/INFO  shutting down connected_sessions=0 operator_sessions=1 pending_requests=0 running_runs_interrupted=0$/)
    expect(output).not.toContain(login.token)
  }, 60_000)

  it("a pretty line keeps a multi-line message and cause on its one line", () => {
    const line = prettyLine({
      logLevel: LogLevel.Error,
      message: "first\nsecond",
      annotations: HashMap.make(["run_id", "R-1"], ["note", "two words"]),
      cause: Cause.die(new Error("boom")),
      date: new Date(0)
    })
    expect(line.split("\n")).toHaveLength(1)
    expect(line).toMatch(/^1970-01-01T00:00:00.000Z ERROR first\\nsecond note="two words" run_id=R-1 cause="Error: boom\\n/)
  })

  it("--log-level warning hides the info lines; a bad format or level is refused naming the choices", async () => {
    // a non-loopback bind logs a warning after the (info) listening line: the warning shows, the info does not
    const quiet = start([
      "serve", "--memory", "--host", "0.0.0.0", "--port", "0", "--api-token", "a-token-of-enough-length-0123",
      "--log-level", "warning"
    ])
    await waitFor(quiet, /not a loopback/)
    const badLevel = start(["serve", "--memory", "--port", "0", "--log-level", "loud"])
    expect(await badLevel.exit).toBe(1)
    expect(badLevel.output()).toContain("--log-level (or env SWARMGATE_LOG_LEVEL) must be one of all, trace, debug")
    expect(badLevel.output()).toContain('got "loud"')
    const badFormat = start(["serve", "--memory", "--port", "0"], { SWARMGATE_LOG_FORMAT: "xml" })
    expect(await badFormat.exit).toBe(1)
    expect(badFormat.output()).toContain("--log-format (or env SWARMGATE_LOG_FORMAT) must be one of pretty, json")
    quiet.child.kill("SIGTERM")
    expect(await quiet.exit).toBe(0)
    expect(quiet.output()).not.toMatch(/listening on/)
  }, 60_000)
})
