/**
 * The person at the terminal: one question at a time, answers read as lines from stdin.
 * Stdin is only opened when a question is actually asked, so `--approve all --exec ...`
 * never touches it. At end of input every further question gets None.
 */
import { Effect, Option, type Scope } from "effect"
import { createInterface, type Interface } from "node:readline"

export interface Terminal {
  /** Writes `text` to stderr and reads one line; None once stdin has ended. */
  readonly ask: (text: string) => Effect.Effect<Option.Option<string>>
}

export const makeTerminal = (): Effect.Effect<Terminal, never, Scope.Scope> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    let rl: Interface | undefined
    let ended = false
    const lines: Array<string> = []
    const waiters: Array<() => void> = []
    const open = () => {
      if (rl !== undefined) return
      rl = createInterface({ input: process.stdin, terminal: false })
      rl.on("line", (line) => {
        lines.push(line)
        waiters.shift()?.()
      })
      rl.on("close", () => {
        ended = true
        for (const w of waiters.splice(0)) w()
      })
    }
    const nextLine = Effect.async<Option.Option<string>>((resume) => {
      open()
      const take = () => {
        if (lines.length > 0) resume(Effect.succeed(Option.some(lines.shift()!)))
        else if (ended) resume(Effect.succeed(Option.none()))
        else waiters.push(take)
      }
      take()
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        rl?.close()
        if (rl !== undefined) process.stdin.destroy()
      })
    )
    return {
      ask: (text) =>
        lock.withPermits(1)(
          Effect.zipRight(Effect.sync(() => process.stderr.write(text)), nextLine)
        )
    }
  })
