/**
 * The process around the CLI (CLI, `serve`): the first SIGINT/SIGTERM interrupts the
 * program, whose finalizers stop taking work, mark runs interrupted, close sockets with
 * 1001 and kill subprocess agents; the process then exits 0. Shutdown is bounded: if it
 * has not finished after `SHUTDOWN_BUDGET_MS` the process exits anyway (subprocess agents
 * are killed by their exit hook), so a socket that does not read cannot hold it. A second
 * signal only hurries it (a shorter budget); it never kills the process outright, which
 * could leave agents running or node half-stopped with its listener closed.
 */
import { Cause, Effect, Exit } from "effect"

export const SHUTDOWN_BUDGET_MS = 4_500
export const HURRIED_BUDGET_MS = 500

/** 0 on success or interruption, 1 for anything else (a command may say otherwise). */
const defaultExitCode = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? 1 : 0

export const runMain = <E, A>(
  program: Effect.Effect<A, E>,
  exitCodeOf: (exit: Exit.Exit<A, E>) => number = defaultExitCode
): void => {
  // the runtime's fibers alone do not keep node alive while the program waits on something
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const fiber = Effect.runFork(program)
  let signalled = false
  let budget: NodeJS.Timeout | undefined

  const giveUp = () => {
    process.stderr.write("swarmgate: shutdown did not finish in time; exiting now\n")
    process.exit(0)
  }
  const onSignal = () => {
    if (!signalled) {
      signalled = true
      budget = setTimeout(giveUp, SHUTDOWN_BUDGET_MS)
      fiber.unsafeInterruptAsFork(fiber.id())
      return
    }
    // hurry: a shorter budget, never a hard kill
    if (budget !== undefined) clearTimeout(budget)
    budget = setTimeout(giveUp, HURRIED_BUDGET_MS)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)

  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    if (budget !== undefined) clearTimeout(budget)
    // exit now: an idle keep-alive HTTP connection of a client command must not hold the process open
    process.exit(exitCodeOf(exit))
  })
}
