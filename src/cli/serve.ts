/** `swarmgate serve` (cli.md). */
import { Command, Options } from "@effect/cli"
import { Cause, Console, Effect, Layer, Option } from "effect"
import { AppLive } from "../layers/App.js"
import { defaultDataDir, type ServerConfigInput } from "../layers/ServerConfig.js"

const host = Options.text("host").pipe(
  Options.withDescription("address to listen on; anything but loopback exposes the server"),
  Options.withDefault("127.0.0.1")
)
const port = Options.integer("port").pipe(
  Options.withDescription("port to listen on (0 picks a free one)"),
  Options.withDefault(7777)
)
const dataDir = Options.text("data-dir").pipe(
  Options.withDescription("directory for the SQLite data (default: env SWARMGATE_DATA_DIR, else ~/.swarmgate)"),
  Options.optional
)
const memory = Options.boolean("memory").pipe(Options.withDescription("keep everything in memory"))
const publicUrl = Options.text("public-url").pipe(
  Options.withDescription("base URL sub-agents reach this server at (default: the bound address)"),
  Options.optional
)

const problem = (message: string) => Effect.fail(message)

const validate = (options: {
  readonly host: string
  readonly port: number
  readonly dataDir: Option.Option<string>
  readonly memory: boolean
  readonly publicUrl: Option.Option<string>
}): Effect.Effect<ServerConfigInput, string> => {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return problem(`--port must be between 0 and 65535, got ${options.port}`)
  }
  if (options.host.trim() === "") return problem("--host must not be empty")
  if (Option.isSome(options.publicUrl)) {
    let url: URL
    try {
      url = new URL(options.publicUrl.value)
    } catch {
      return problem(`--public-url must be an absolute http(s) URL, got ${JSON.stringify(options.publicUrl.value)}`)
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return problem(`--public-url must use http or https, got ${url.protocol}`)
    }
  }
  return Effect.succeed({
    host: options.host,
    port: options.port,
    memory: options.memory,
    dataDir: Option.getOrElse(options.dataDir, defaultDataDir),
    publicUrl: Option.getOrUndefined(options.publicUrl)
  })
}

const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "ServeError") {
    const inner = "cause" in error && error.cause instanceof Error ? error.cause.message : String(error)
    return `could not listen: ${inner}`
  }
  return error instanceof Error ? error.message : String(error)
}

export const serve = Command.make(
  "serve",
  { host, port, dataDir, memory, publicUrl },
  (options) =>
    Effect.flatMap(validate(options), (config) => Layer.launch(AppLive(config))).pipe(
      // runMain runs with error reporting off: say what went wrong in one line
      Effect.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(`swarmgate serve: ${describeFailure(cause)}`)
      )
    )
).pipe(Command.withDescription("run the server"))
