/**
 * `swarmgate run <blueprint.json|id>` (docs/commands.md): launch a run and follow it with a live
 * progress display on stderr, then print the run as one JSON document on stdout; exit 0 for
 * `done`, 1 otherwise. `--operator auto` (the default when the blueprint has operator
 * agents) joins as an operator in-process and answers by the rules of `swarmgate operator`.
 */
import { Args, Command as Cli, Options } from "@effect/cli"
import { Config, Effect, Option, Stream } from "effect"
import { makeApiClient } from "../client/api.js"
import { followRun } from "../client/events.js"
import { connectOperator, type OperatorConnection } from "../client/OperatorConnection.js"
import { command, exitWith, fail, printJson, serverOption, stderr } from "./common.js"
import { blueprintRef, hasOperatorAgents, readInput } from "./input.js"
import { approveOption, execOption } from "./operatorOptions.js"
import { makeProgress } from "./progress.js"
import { serveRequests } from "./respond.js"
import { makeTerminal } from "./terminal.js"

const blueprint = Args.text({ name: "blueprint.json|id" }).pipe(
  Args.withDescription("a blueprint file (run inline) or the id of a stored blueprint")
)
const input = Options.text("input").pipe(
  Options.withPseudoName("JSON|@file"),
  Options.withDescription("the run's input: JSON, or @file to read it from a file (default: the blueprint's default_input)"),
  Options.optional
)
const operator = Options.text("operator").pipe(
  Options.withPseudoName("auto|none|SID"),
  Options.withDescription(
    "auto: answer operator steps in this process; none: seat no one; S-...: seat that session " +
      "(its token in env SWARMGATE_OPERATOR_TOKEN) (default: auto when the blueprint has operator agents " +
      "and --detach is not given, else none)"
  ),
  Options.optional
)
const detach = Options.boolean("detach").pipe(
  Options.withDescription("print the launched run's ids and return at once instead of following it")
)

const operatorToken = Config.string("SWARMGATE_OPERATOR_TOKEN").pipe(Config.option)

type Seat = { readonly _tag: "Auto" } | { readonly _tag: "None" } | { readonly _tag: "Session"; readonly sid: string }

const parseSeat = (value: string) =>
  value === "auto"
    ? Effect.succeed<Seat>({ _tag: "Auto" })
    : value === "none"
    ? Effect.succeed<Seat>({ _tag: "None" })
    : /^S-[0-9a-f]+$/.test(value)
    ? Effect.succeed<Seat>({ _tag: "Session", sid: value })
    : fail(`--operator must be auto, none or an operator session id (S-...), got ${JSON.stringify(value)}`)

export const run = Cli.make(
  "run",
  { blueprint, input, operator, detach, exec: execOption, approve: approveOption, server: serverOption },
  (options) =>
    Effect.scoped(Effect.gen(function*() {
      const server = options.server
      const ref = yield* blueprintRef(options.blueprint)
      const runInput = yield* Option.match(options.input, {
        onNone: () => Effect.succeed(undefined),
        onSome: (text) => Effect.map(readInput(text), (v): unknown => v)
      })
      const api = yield* makeApiClient(server)
      const needsOperator = ref._tag === "Inline"
        ? hasOperatorAgents(ref.blueprint)
        : hasOperatorAgents((yield* api.blueprints.get({ path: { id: ref.id }, urlParams: {} })).blueprint)
      const seat = yield* Option.match(options.operator, {
        onNone: () => Effect.succeed<Seat>(needsOperator && !options.detach ? { _tag: "Auto" } : { _tag: "None" }),
        onSome: parseSeat
      })
      if (seat._tag === "Auto" && options.detach) {
        return yield* fail(
          "--detach cannot keep an in-process operator: start `swarmgate operator` and pass --operator <its sid>, " +
            "or leave out --detach"
        )
      }

      let conn: OperatorConnection | undefined
      let token: string | undefined
      if (seat._tag === "Auto") {
        conn = yield* connectOperator({ server, desc: `swarmgate run ${options.blueprint}` })
        token = conn.token
      } else if (seat._tag === "Session") {
        const t = yield* operatorToken
        if (Option.isNone(t)) {
          return yield* fail(`--operator ${seat.sid} needs that session's token in env SWARMGATE_OPERATOR_TOKEN`)
        }
        token = t.value
      }
      const sid = conn?.sid ?? (seat._tag === "Session" ? seat.sid : undefined)
      const launcher = yield* makeApiClient(server, token === undefined ? {} : { token })
      const launched = yield* launcher.tasks.launch({
        payload: {
          blueprint: ref._tag === "Inline" ? ref.blueprint : ref.id,
          ...(runInput === undefined ? {} : { input: runInput }),
          ...(sid === undefined ? {} : { operator_sid: sid })
        }
      })
      const runId = launched.run_id
      if (options.detach) return yield* printJson({ task_id: launched.task_id, run_id: runId, status: launched.status })

      const progress = yield* makeProgress(runId, { tty: process.stderr.isTTY === true })
      if (conn !== undefined) {
        const own = yield* makeTerminal()
        const terminal = { ask: (text: string) => progress.interlude(own.ask(text)) }
        const serving = serveRequests(conn, { exec: options.exec, approve: options.approve, terminal, note: progress.note })
        yield* Effect.forkScoped(serving.pipe(
          Effect.catchAll((e) => progress.note(`the in-process operator stopped: ${String((e as Error)?.message ?? e)}`))
        ))
      }
      yield* followRun(server, runId).pipe(
        Stream.takeUntil((e) => e.type === "run_finished" || e.type === "run_interrupted"),
        Stream.runForEach(progress.event),
        Effect.catchAll(() =>
          stderr(`lost the event stream of run ${runId}; see its state with \`swarmgate show ${runId}\``)
        ),
        // Ctrl-C: a run whose only operator is this process could never go on, so it is
        // cancelled; with another operator it goes on, and we say how to find it
        Effect.onInterrupt(() =>
          conn !== undefined
            ? api.runs.cancel({ path: { id: runId } }).pipe(
              Effect.zipRight(stderr(`\nstopped: run ${runId} cancelled`)),
              Effect.timeout("5 seconds"),
              Effect.ignore
            )
            : stderr(`\nstopped following run ${runId}; it goes on: \`swarmgate show ${runId}\``)
        )
      )
      const finished = yield* api.runs.get({ path: { id: runId } })
      yield* printJson(finished)
      if (finished.status !== "done") return yield* exitWith(1)
    })).pipe((body) =>
      command(options.server, body, {
        unknown_blueprint: "list stored blueprints with `swarmgate blueprint list`, or pass a blueprint file",
        invalid_blueprint: "check the file with `swarmgate blueprint validate <file>` to see every problem",
        unknown_session: "list sessions with `swarmgate sessions`"
      })
    )
).pipe(Cli.withDescription("launch a run and follow it until it ends; the result goes to stdout as JSON"))
