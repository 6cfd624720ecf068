/**
 * What every command shares: `--server` and `--json`, the one-line failure every user
 * mistake becomes, output helpers, and tables.
 */
import { Options } from "@effect/cli"
import { Config, Data, Effect } from "effect"
import { DEFAULT_SERVER, explain, HttpLive } from "../client/api.js"
import type { ServerUnreachable, UnexpectedAnswer } from "../client/errors.js"
import type { ApiError } from "../http/errors.js"

export const serverOption = Options.text("server").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(`URL of the swarmgate server (default: env SWARMGATE_URL, else ${DEFAULT_SERVER})`),
  Options.withFallbackConfig(Config.string("SWARMGATE_URL")),
  Options.withDefault(DEFAULT_SERVER)
)

export const jsonOption = Options.boolean("json").pipe(
  Options.withDescription("print one JSON document instead of a table (default: a table)")
)

/** A failure the user can act on: printed as one line on stderr, then exit with `exitCode`. */
export class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly message: string
  readonly exitCode: number
}> {}

export const failure = (message: string, exitCode = 1) => new CliFailure({ message, exitCode })
export const fail = (message: string, exitCode = 1) => Effect.fail(failure(message, exitCode))

/** An ended command that already printed what it had to say (run: exit 1 for a run not `done`). */
export const exitWith = (exitCode: number) => Effect.fail(new CliFailure({ message: "", exitCode }))

const firstLine = (text: string) => text.split("\n")[0] ?? text

/** API and transport errors as one line; `hints` adds what to do for a code, by command. */
export const describe = (
  error: ApiError | ServerUnreachable | UnexpectedAnswer | CliFailure,
  hints: Readonly<Record<string, string>> = {}
): CliFailure => {
  if (error._tag === "CliFailure") return error
  if (error._tag === "ServerUnreachable" || error._tag === "UnexpectedAnswer") return failure(error.message)
  const hint = hints[error.code]
  return failure(firstLine(error.message) + (hint === undefined ? "" : `; ${hint}`))
}

/** `--server` must be an absolute http(s) URL; undefined: the command needs no server. */
const checkServer = (server: string | undefined) => {
  if (server === undefined) return Effect.void
  let url: URL | undefined
  try {
    url = new URL(server)
  } catch {
    url = undefined
  }
  return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
    ? Effect.void
    : fail(`--server (or env SWARMGATE_URL) must be an http(s) URL such as ${DEFAULT_SERVER}, got ${JSON.stringify(server)}`)
}

/** Runs a command body over the HTTP layer with every error turned into one line. */
export const command = <A, R>(
  server: string | undefined,
  body: Effect.Effect<A, unknown, R>,
  hints: Readonly<Record<string, string>> = {}
) =>
  Effect.zipRight(checkServer(server), body).pipe(
    Effect.mapError((e) => {
      const explained = typeof e === "object" && e !== null && "_tag" in e && e._tag === "CliFailure"
        ? (e as CliFailure)
        : explain(server ?? "")(e)
      return describe(explained, hints)
    }),
    Effect.provide(HttpLive)
  )

export const stdout = (text: string) => Effect.sync(() => void process.stdout.write(text.endsWith("\n") ? text : text + "\n"))
export const stderr = (text: string) => Effect.sync(() => void process.stderr.write(text.endsWith("\n") ? text : text + "\n"))
export const printJson = (value: unknown) => stdout(JSON.stringify(value, null, 2))

/** A plain text table: columns padded to their widest cell. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  if (rows.length === 0) return "(none)"
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(headers), ...rows.map(line)].join("\n")
}

/** `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05`. */
export const when = (iso: string | undefined) => (iso === undefined ? "" : iso.replace("T", " ").replace(/\.\d+Z$/, "Z"))
