import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { cli } from "./Cli.js"
import { withHelpConsole } from "./helpText.js"
import { runMain } from "./main.js"

/**
 * Exit codes: 0 on success, a command's `CliFailure.exitCode` (its one line printed here,
 * never a stack trace), 1 for anything else. @effect/cli prints its own parse errors.
 * Signals and the shutdown budget: main.ts.
 */
const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { _tag?: string; exitCode?: number }
    if (e._tag === "CliFailure" && typeof e.exitCode === "number") return e.exitCode
  }
  return 1
}

const main = cli(process.argv).pipe(
  Effect.tapError((e) => {
    const err = e as { _tag?: string; message?: string }
    return err._tag === "CliFailure" && err.message !== "" && err.message !== undefined
      ? Effect.sync(() => void process.stderr.write(`swarmgate: ${err.message}\n`))
      : Effect.void
  }),
  Effect.tapDefect((defect) =>
    Effect.sync(() => void process.stderr.write(`swarmgate: internal error: ${String(defect)}\n`))
  ),
  withHelpConsole,
  Effect.provide(NodeContext.layer)
)

runMain(main, exitCodeOf)
