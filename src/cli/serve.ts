/** `swarmgate serve` (docs/commands.md). */
import { Command, Options } from "@effect/cli"
import { Cause, Config, Console, Duration, Effect, Layer, Option } from "effect"
import { AppLive, type EngineOptions } from "../layers/App.js"
import { LoggingLive, logFormats, logLevels } from "../layers/Logging.js"
import { TracingLive } from "../layers/Tracing.js"
import { defaultDataDir, isLoopbackHost, type ServerConfigInput } from "../layers/ServerConfig.js"
import { isUsableApiToken, loadOrCreateApiToken } from "../layers/sqlite/apiToken.js"

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

const apiToken = Options.text("api-token").pipe(
  Options.withDescription(
    "token the blueprint, task and run routes need (Authorization: Bearer <token>) when --host is not loopback " +
      "(default: env SWARMGATE_API_TOKEN, else one generated on the first start and kept in <data-dir>/api-token)"
  ),
  Options.withFallbackConfig(Config.string("SWARMGATE_API_TOKEN")),
  Options.optional
)
const allowHost = Options.text("allow-host").pipe(
  Options.withDescription("another name the Host header may carry (repeatable); others get 421"),
  Options.repeated
)
const allowOrigin = Options.text("allow-origin").pipe(
  Options.withDescription("a web origin allowed to call this server, e.g. https://ui.example (repeatable)"),
  Options.repeated
)

// text, checked in `logging`: a bad value gets one line naming the flag, its env and the choices
const logFormat = Options.text("log-format").pipe(
  Options.withDescription(
    "pretty: readable lines; json: one JSON object a line (default: env SWARMGATE_LOG_FORMAT, else pretty)"
  ),
  Options.withFallbackConfig(Config.string("SWARMGATE_LOG_FORMAT")),
  Options.withDefault("pretty")
)
const logLevel = Options.text("log-level").pipe(
  Options.withDescription(
    `the least severe level logged: ${logLevels.join(", ")} (default: env SWARMGATE_LOG_LEVEL, else info)`
  ),
  Options.withFallbackConfig(Config.string("SWARMGATE_LOG_LEVEL")),
  Options.withDefault("info")
)

const oneOf = <A extends string>(flag: string, choices: ReadonlyArray<A>, value: string): Effect.Effect<A, string> => {
  const found = choices.find((c) => c === value.trim().toLowerCase())
  return found !== undefined
    ? Effect.succeed(found)
    : problem(`--${flag} (or env ${envOf(flag)}) must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`)
}

const logging = (options: { readonly logFormat: string; readonly logLevel: string }) =>
  Effect.map(
    Effect.all([oneOf("log-format", logFormats, options.logFormat), oneOf("log-level", logLevels, options.logLevel)]),
    ([format, level]) => LoggingLive(format, level)
  )

/** `--spawn-timeout` falls back to env `SWARMGATE_SPAWN_TIMEOUT`, and so on. */
const envOf = (flag: string) => `SWARMGATE_${flag.toUpperCase().replace(/-/g, "_")}`

/** A duration flag with an env fallback; parsed in `validate` so a bad value gets one clear line. */
const durationOption = (flag: string, what: string, otherwise = "none") =>
  Options.text(flag).pipe(
    Options.withDescription(`${what}, e.g. "90 seconds" or "500 millis" (default: env ${envOf(flag)}, else ${otherwise})`),
    Options.withFallbackConfig(Config.string(envOf(flag))),
    Options.optional
  )
const askTimeout = durationOption("ask-timeout", "deadline of an `ask` request")
const hookTimeout = durationOption("hook-timeout", "deadline of a `hook_before` request")
const spawnTimeout = durationOption("spawn-timeout", "deadline of a `spawn` request")
const workerTokenTtl = durationOption("worker-token-ttl", "lifetime of a worker handle or capability token", "30 minutes")
const sessionIdle = durationOption("session-idle", "a disconnected operator session idle this long expires", "24 hours")
const sweepEvery = durationOption("sweep-every", "how often idle sessions are swept", "5 minutes")

const problem = (message: string) => Effect.fail(message)

const parseDuration = (flag: string, value: Option.Option<string>): Effect.Effect<Duration.Duration | undefined, string> =>
  Option.match(value, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) =>
      Option.match(Option.filter(Duration.decodeUnknown(text.trim()), Duration.greaterThan(Duration.zero)), {
        onNone: () =>
          problem(
            `--${flag} (or env ${envOf(flag)}) must be a positive duration such as "90 seconds" or "500 millis", ` +
              `got ${JSON.stringify(text)}`
          ),
        onSome: Effect.succeed
      })
  })

/** Only the keys whose value is defined (exactOptionalPropertyTypes forbids explicit undefined). */
const defined = <T extends Record<string, unknown>>(record: T): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as never

const validate = (options: {
  readonly host: string
  readonly port: number
  readonly dataDir: Option.Option<string>
  readonly memory: boolean
  readonly publicUrl: Option.Option<string>
  readonly askTimeout: Option.Option<string>
  readonly hookTimeout: Option.Option<string>
  readonly spawnTimeout: Option.Option<string>
  readonly workerTokenTtl: Option.Option<string>
  readonly sessionIdle: Option.Option<string>
  readonly sweepEvery: Option.Option<string>
  readonly apiToken: Option.Option<string>
  readonly allowHost: ReadonlyArray<string>
  readonly allowOrigin: ReadonlyArray<string>
}): Effect.Effect<{ readonly server: ServerConfigInput; readonly engine: EngineOptions }, string> => {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return problem(`--port must be between 0 and 65535, got ${options.port}`)
  }
  if (options.host.trim() === "") return problem("--host must not be empty")
  const token = Option.getOrUndefined(Option.map(options.apiToken, (t) => t.trim()))
  if (token !== undefined && !isUsableApiToken(token)) {
    return problem("--api-token (or env SWARMGATE_API_TOKEN) must be at least 16 characters without spaces, e.g. " +
      "the output of: openssl rand -hex 16")
  }
  // beyond loopback without a token, one is generated and kept in the data directory (`withApiToken`)
  if (token === undefined && !isLoopbackHost(options.host.trim()) && options.memory) {
    return problem(
      `--host ${options.host} is not a loopback address, so the server needs an API token, and with --memory ` +
        `there is no data directory to keep a generated one in: start it with --api-token <token> or env ` +
        `SWARMGATE_API_TOKEN=<token> (e.g. openssl rand -hex 16), or without --memory`
    )
  }
  for (const origin of options.allowOrigin) {
    let url: URL | undefined
    try {
      url = new URL(origin)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin === "null") {
      return problem(`--allow-origin must be an origin such as https://ui.example, got ${JSON.stringify(origin)}`)
    }
  }
  if (options.allowHost.some((h) => h.trim() === "" || /[\s/]/.test(h))) {
    return problem("--allow-host takes a host name such as my-laptop.local (no scheme, no path)")
  }
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
  return Effect.all({
    ask: parseDuration("ask-timeout", options.askTimeout),
    hook: parseDuration("hook-timeout", options.hookTimeout),
    spawn: parseDuration("spawn-timeout", options.spawnTimeout),
    workerTokenTtl: parseDuration("worker-token-ttl", options.workerTokenTtl),
    horizon: parseDuration("session-idle", options.sessionIdle),
    sweepEvery: parseDuration("sweep-every", options.sweepEvery)
  }).pipe(Effect.map(({ ask, horizon, hook, spawn, sweepEvery, workerTokenTtl }) => ({
    server: {
      host: options.host,
      port: options.port,
      memory: options.memory,
      dataDir: Option.getOrElse(options.dataDir, defaultDataDir),
      publicUrl: Option.getOrUndefined(options.publicUrl),
      deadlines: defined({ ask, hook, spawn }),
      idle: defined({ horizon, sweepEvery }),
      apiToken: token,
      allowHosts: options.allowHost.map((h) => h.trim()),
      allowOrigins: options.allowOrigin.map((o) => o.trim())
    },
    engine: defined({ workerTokenTtl })
  })))
}

/**
 * Beyond loopback with no token given: the one stored in the data directory, made (and shown,
 * this once, on stderr and never in the logs) on the first such start.
 */
const withApiToken = (server: ServerConfigInput) =>
  server.apiToken !== undefined || server.host === undefined || isLoopbackHost(server.host.trim())
    ? Effect.succeed(server)
    : loadOrCreateApiToken(server.dataDir ?? defaultDataDir()).pipe(
      Effect.tap(({ file, generated, token }) =>
        Console.error(
          generated
            ? `swarmgate serve: generated an API token for the blueprint, task and run routes and stored it in ` +
              `${file}; it is shown only this once: ${token}`
            : `swarmgate serve: using the API token stored in ${file}`
        )
      ),
      Effect.map(({ token }) => ({ ...server, apiToken: token }))
    )

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
  {
    host,
    port,
    dataDir,
    memory,
    publicUrl,
    apiToken,
    allowHost,
    allowOrigin,
    askTimeout,
    hookTimeout,
    spawnTimeout,
    workerTokenTtl,
    logFormat,
    logLevel,
    sessionIdle,
    sweepEvery
  },
  (options) =>
    Effect.flatMap(logging(options), (logger) =>
      Effect.flatMap(
        validate(options),
        ({ engine, server }) => Effect.flatMap(withApiToken(server), (s) => Layer.launch(AppLive(s, engine)))
      ).pipe(
        TracingLive,
        Effect.provide(logger)
      )).pipe(
      // runMain runs with error reporting off: say what went wrong in one line
      Effect.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(`swarmgate serve: ${describeFailure(cause)}`)
      )
    )
).pipe(Command.withDescription("run the server"))
