/**
 * `swarmgate operator` (docs/commands.md): join as an operator and serve requests until stopped.
 * Reconnects by itself with backoff, keeping its session; Ctrl-C leaves (the session is
 * deleted, its seats are vacated).
 */
import { Command as Cli, Options } from "@effect/cli"
import { Clock, Effect, Stream } from "effect"
import { connectOperator } from "../client/OperatorConnection.js"
import { command, exitWith, serverOption, stderr } from "./common.js"
import { approveOption, execOption } from "./operatorOptions.js"
import { serveRequests } from "./respond.js"
import { makeTerminal } from "./terminal.js"

const desc = Options.text("desc").pipe(
  Options.withPseudoName("TEXT"),
  Options.withDescription("a description other operators and `swarmgate sessions` show (default: none)"),
  Options.optional
)

const stamp = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString().slice(11, 19))
const note = (line: string) => Effect.flatMap(stamp, (t) => stderr(`[${t}] ${line}`))

export const operator = Cli.make(
  "operator",
  { desc, exec: execOption, approve: approveOption, server: serverOption },
  (options) =>
    Effect.scoped(Effect.gen(function*() {
      const conn = yield* connectOperator({
        server: options.server,
        ...(options.desc._tag === "Some" ? { desc: options.desc.value } : {})
      })
      yield* stderr(
        `operator session ${conn.sid} connected to ${conn.server}; serving requests until Ctrl-C\n` +
          `  seat it in a run: SWARMGATE_OPERATOR_TOKEN=${conn.token} swarmgate run <blueprint> --operator ${conn.sid}`
      )
      yield* Effect.forkScoped(conn.status.changes.pipe(
        Stream.drop(1),
        Stream.runForEach((s) =>
          s === "disconnected" ? note("connection lost; reconnecting") : s === "connected" ? note("reconnected") : Effect.void
        )
      ))
      yield* Effect.forkScoped(Stream.runForEach(conn.serverErrors, (e) => note(`server refused a reply: ${e.message}`)))
      const terminal = yield* makeTerminal()
      const ended = yield* serveRequests(conn, { exec: options.exec, approve: options.approve, terminal, note }).pipe(
        Effect.either
      )
      if (ended._tag === "Left") {
        const e = ended.left
        yield* stderr(`swarmgate operator: ${typeof e === "object" && e !== null && "message" in e ? e.message : e}`)
        return yield* exitWith(1)
      }
      yield* note(`operator session ${conn.sid} was torn down`)
    })).pipe((body) => command(options.server, body))
).pipe(Cli.withDescription("join as an operator and serve requests (ask, hook_before, spawn) until stopped"))
