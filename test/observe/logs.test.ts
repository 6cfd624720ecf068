/**
 * Log lines (docs/observability.md): one per login, connect, disconnect, teardown, run start
 * and end, step end and shutdown; and never a token, handle or body, even at debug level.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Layer, Logger, LogLevel } from "effect"
import { LoggingLive } from "../../src/layers/Logging.js"
import { oneOperatorStep, startWith } from "./harness.js"

/** Effect's JSON logger (what `--log-format json` installs), writing into an array. */
const capture = () => {
  const lines: Array<string> = []
  const layer = Layer.merge(
    Logger.replace(Logger.defaultLogger, Logger.map(Logger.jsonLogger, (line) => void lines.push(line))),
    Logger.minimumLogLevel(LogLevel.Debug)
  )
  return { lines, layer }
}

const entries = (lines: ReadonlyArray<string>) =>
  lines.map((l) => JSON.parse(l) as { message: unknown; logLevel: string; annotations: Record<string, unknown> })
const messageOf = (e: { message: unknown }) => Array.isArray(e.message) ? e.message.join(" ") : String(e.message)

describe("log lines", () => {
  const logs = capture()
  let closed = false
  let server: Awaited<ReturnType<typeof startWith>> | undefined
  afterAll(async () => {
    if (!closed) await server?.close()
  })

  it("a full operator step at debug level: the events are logged, no secret or body is", async () => {
    server = await startWith(logs.layer)
    const secrets = await oneOperatorStep(server, "observe-logs")
    await server.close()
    closed = true

    const all = logs.lines.join("\n")
    for (const [what, secret] of Object.entries({
      session_token: secrets.sessionToken,
      worker_handle: secrets.workerHandle,
      capability_token: secrets.capabilityToken,
      submitted_body: secrets.submittedBody,
      submitted_value: "the-secret-submitted-body-4711",
      input: "say hi"
    })) {
      expect(all.includes(secret), `${what} appears in the log`).toBe(false)
    }

    const found = entries(logs.lines)
    const one = (message: string) => {
      const matching = found.filter((e) => messageOf(e) === message)
      expect(matching, `log lines "${message}"`).toHaveLength(1)
      return matching[0]!.annotations
    }
    expect(one("operator login")).toMatchObject({ sid: secrets.sid })
    expect(one("operator connected")).toMatchObject({ sid: secrets.sid })
    expect(one("operator disconnected")).toMatchObject({ sid: secrets.sid })
    expect(one("run started")).toMatchObject({ run_id: secrets.runId })
    const runEnd = one("run ended")
    expect(runEnd).toMatchObject({ run_id: secrets.runId, status: "done" })
    expect(typeof runEnd.duration_ms).toBe("number")
    const stepEnd = one("step ended")
    expect(stepEnd).toMatchObject({ run_id: secrets.runId, ref: "worker", status: "passed", attempt: 1 })
    expect(typeof stepEnd.duration_ms).toBe("number")
    expect(one("shutting down")).toMatchObject({ operator_sessions: 1, running_runs_interrupted: 0 })
    expect(one("operator session torn down")).toMatchObject({ sid: secrets.sid, reason: "the server is shutting down" })
    expect(found.some((e) => messageOf(e).startsWith("swarmgate ") && messageOf(e).includes("listening on"))).toBe(true)
  })
})

describe("LoggingLive", () => {
  it("json is one JSON object a line; the level filters", async () => {
    const { Effect } = await import("effect")
    const printed: Array<string> = []
    const original = console.log
    console.log = (...args: Array<unknown>) => void printed.push(args.join(" "))
    try {
      await Effect.runPromise(
        Effect.zipRight(Effect.logDebug("hidden"), Effect.logInfo("shown").pipe(Effect.annotateLogs({ run_id: "R-1" })))
          .pipe(Effect.provide(LoggingLive("json", "info")))
      )
    } finally {
      console.log = original
    }
    expect(printed).toHaveLength(1)
    expect(JSON.parse(printed[0]!)).toMatchObject({ message: "shown", logLevel: "INFO", annotations: { run_id: "R-1" } })
  })
})
