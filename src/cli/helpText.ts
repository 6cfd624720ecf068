/**
 * @effect/cli's help and parse errors, made to read as docs/commands.md describes: usage lines start with
 * `swarmgate`, the library's placeholder sentences ("A user-defined piece of text.") are
 * dropped (every option says what it does and its default itself), and no colour codes
 * unless the stream is a terminal. Applied to the Console the library prints through;
 * commands write their own output to the process streams directly.
 */
import { Console, Effect } from "effect"

const placeholders = new Set([
  "A user-defined piece of text.",
  "An integer.",
  "A true or false value.",
  "A floating point number.",
  "This setting is optional.",
  "A date without a time-zone in the ISO-8601 format, such as 2007-12-03T10:15:30."
])

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;]*m/g

/**
 * The library prints a subcommand's usage with its own name only (`$ put ...`); the words
 * before it come from the command line: `swarmgate blueprint put --help` → `blueprint`.
 */
const groups = new Set(["blueprint"])
export const parentsOf = (argv: ReadonlyArray<string>): string => {
  const words = argv.slice(2)
  const first = words[0]
  return first !== undefined && groups.has(first) && words[1] !== undefined && !words[1].startsWith("-")
    ? `${first} `
    : ""
}

const parents = parentsOf(process.argv)

export const rewriteHelp = (text: string, colour: boolean, prefix = parents): string => {
  const plain = colour ? text : text.replace(ansi, "")
  const lines = plain.split("\n").flatMap((line) => {
    const bare = line.replace(ansi, "").trim()
    if (placeholders.has(bare)) return []
    if (/^One of the following: /.test(bare)) return []
    if (/^(?:\x1b\[[0-9;]*m)*\$ swarmgate\s*$/.test(line)) return ["swarmgate <command> [options]"]
    return [line.replace(/^((?:\x1b\[[0-9;]*m)*)\$ /, `$1swarmgate ${prefix}`)]
  })
  // collapse the blank lines the dropped sentences leave behind
  return lines.join("\n").replace(/\n{3,}/g, "\n\n")
}

const write = (stream: NodeJS.WriteStream) => (...args: ReadonlyArray<unknown>) =>
  Effect.sync(() => {
    stream.write(rewriteHelp(args.map(String).join(" "), stream.isTTY === true) + "\n")
  })

/** The Console the CLI library prints its help and errors through. */
export const withHelpConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Console.consoleWith(Effect.succeed), (base) =>
    Effect.withConsole(effect, {
      ...base,
      log: write(process.stdout),
      error: write(process.stderr),
      unsafe: {
        ...base.unsafe,
        log: (...args) => void process.stdout.write(rewriteHelp(args.map(String).join(" "), process.stdout.isTTY === true) + "\n"),
        error: (...args) => void process.stderr.write(rewriteHelp(args.map(String).join(" "), process.stderr.isTTY === true) + "\n")
      }
    }))
