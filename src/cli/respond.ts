/**
 * How `swarmgate operator` (and `run --operator auto`) answers requests (docs/commands.md):
 * `ask` and `hook_before` go to the person at the terminal, or are approved with
 * `--approve all` (an ask is then answered `true`); a `spawn` starts `--exec CMD` as the
 * sub-agent with its handle in the env, or, without `--exec`, shows the prompt and takes
 * the result typed at the terminal. Spawns run concurrently; a withdrawn request stops
 * its sub-agent and is not answered.
 */
import { Command } from "@effect/platform"
import type { CommandExecutor } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import { Effect, Option, Stream } from "effect"
import { delimiter } from "node:path"
import { fileURLToPath } from "node:url"
import { makeApiClient } from "../client/api.js"
import type { Incoming, OperatorConnection } from "../client/OperatorConnection.js"
import type { HookBeforeFrame, SpawnFrame } from "../protocol/frames.js"
import { submitRaw } from "./submit.js"
import type { Terminal } from "./terminal.js"

export type Approve = "all" | "ask"

export interface Rules {
  readonly exec: Option.Option<string>
  readonly approve: Approve
  readonly terminal: Terminal
  /** One line about what happened (progress display or stderr). */
  readonly note: (line: string) => Effect.Effect<void>
}

const tail = (text: string, max = 400) => {
  const t = text.trim()
  return t.length > max ? "…" + t.slice(-max) : t
}

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.runFold("", (a, b) => a + b), Effect.orElseSucceed(() => ""))

/** This installation's `bin/` (with its `swarmgate` launcher) first on PATH, so the sub-agent finds it. */
const ownBin = fileURLToPath(new URL("../../bin", import.meta.url))
const withOwnBin = (path: string | undefined) => (path === undefined || path === "" ? ownBin : `${ownBin}${delimiter}${path}`)

/** Runs `sh -c CMD` as the sub-agent of a spawn; its exit code and stderr. */
export const runSubAgent = (server: string, cmd: string, frame: SpawnFrame) =>
  Effect.scoped(Effect.gen(function*() {
    const handle = frame.worker_handle ?? frame.capability_token
    const proc = yield* Command.make("sh", "-c", cmd).pipe(
      Command.env({
        SWARMGATE_URL: server,
        SWARMGATE_WORKER_HANDLE: handle,
        SWARMGATE_TASK_ID: frame.task_id,
        SWARMGATE_AGENT: frame.agent,
        PATH: withOwnBin(process.env.PATH)
      }),
      // nothing to read: a sub-agent that reads stdin sees it end instead of waiting
      Command.feed(""),
      Command.start
    )
    const [, stderr, code] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode], {
      concurrency: "unbounded"
    })
    return { code: Number(code), stderr }
  }))

const yes = (line: string) => /^\s*(y|yes)?\s*$/i.test(line)

const hookBefore = (conn: OperatorConnection, rules: Rules, frame: HookBeforeFrame) =>
  Effect.gen(function*() {
    if (rules.approve === "all") return yield* conn.hookAck(frame.req_id, true)
    const line = yield* rules.terminal.ask(
      `start agent ${frame.agent} (attempt ${frame.attempt}) for step ${frame.task_id}? [Y/n] `
    )
    if (Option.isNone(line)) {
      return yield* conn.hookAck(frame.req_id, false, "no one at the operator's terminal to approve (stdin ended)")
    }
    return yield* yes(line.value)
      ? conn.hookAck(frame.req_id, true)
      : conn.hookAck(frame.req_id, false, "rejected by the person at the operator's terminal")
  })

const asked = (conn: OperatorConnection, rules: Rules, reqId: string, question: unknown) =>
  Effect.gen(function*() {
    if (rules.approve === "all") return yield* conn.answer(reqId, true)
    const line = yield* rules.terminal.ask(`question: ${JSON.stringify(question)}\nanswer (JSON or text): `)
    if (Option.isNone(line)) return yield* conn.answer(reqId, null)
    let value: unknown = line.value
    try {
      value = JSON.parse(line.value)
    } catch {
      // plain text stays a string
    }
    return yield* conn.answer(reqId, value)
  })

const spawnByHand = (conn: OperatorConnection, rules: Rules, frame: SpawnFrame) =>
  Effect.gen(function*() {
    const handle = frame.worker_handle ?? frame.capability_token
    const api = yield* makeApiClient(conn.server)
    const prompt = yield* api.worker.prompt({ headers: { authorization: `Bearer ${handle}` }, urlParams: {} })
    const system = prompt.system === null ? "" : `system: ${prompt.system}\n`
    const line = yield* rules.terminal.ask(
      `${frame.agent} (step ${frame.task_id}, attempt ${frame.attempt})\n${system}prompt: ` +
        `${typeof prompt.prompt === "string" ? prompt.prompt : JSON.stringify(prompt.prompt)}\nresult: `
    )
    if (Option.isNone(line)) {
      return yield* conn.spawnAck(frame.req_id, { ok: false, error: "no one at the operator's terminal to type a result" })
    }
    yield* submitRaw(conn.server, handle, line.value, "pass")
    return yield* conn.spawnAck(frame.req_id)
  })

const spawn = (conn: OperatorConnection, rules: Rules, frame: SpawnFrame) =>
  Option.match(rules.exec, {
    onNone: () => spawnByHand(conn, rules, frame),
    onSome: (cmd) =>
      Effect.gen(function*() {
        yield* rules.note(`${frame.agent}: sub-agent started (step ${frame.task_id}, attempt ${frame.attempt})`)
        const { code, stderr } = yield* runSubAgent(conn.server, cmd, frame)
        if (code === 0) return yield* conn.spawnAck(frame.req_id)
        const detail = tail(stderr)
        yield* rules.note(`${frame.agent}: sub-agent exited with code ${code}`)
        return yield* conn.spawnAck(frame.req_id, {
          ok: false,
          error: `the sub-agent exited with code ${code}${detail === "" ? "" : `: ${detail}`}`
        })
      })
  })

/** Answers one request by the rules; a withdrawal interrupts it (killing its sub-agent). */
export const respond = (conn: OperatorConnection, rules: Rules) => (incoming: Incoming) => {
  const frame = incoming.frame
  const work = Effect.gen(function*() {
    switch (frame.type) {
      case "hook_before":
        return yield* hookBefore(conn, rules, frame)
      case "ask":
        return yield* asked(conn, rules, frame.req_id, frame.question)
      case "spawn":
        return yield* spawn(conn, rules, frame)
      case "hook_after":
        return
    }
  })
  return work.pipe(
    Effect.raceFirst(Effect.flatMap(incoming.withdrawn, (reason) =>
      rules.note(`${"agent" in frame ? frame.agent : frame.type}: request withdrawn (${reason})`)
    )),
    Effect.catchAll((e) =>
      Effect.gen(function*() {
        const message = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
        yield* rules.note(`could not handle ${frame.type} ${frame.req_id}: ${message}`)
        if (frame.type === "spawn") yield* conn.spawnAck(frame.req_id, { ok: false, error: message })
      })
    )
  )
}

/** Serves every request of the connection until it ends. */
export const serveRequests = (
  conn: OperatorConnection,
  rules: Rules
): Effect.Effect<void, unknown, CommandExecutor.CommandExecutor | HttpClient.HttpClient> =>
  conn.requests.pipe(Stream.mapEffect(respond(conn, rules), { concurrency: "unbounded", unordered: true }), Stream.runDrain)
