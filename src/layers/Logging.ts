/**
 * The server's logger (`serve --log-format`, `--log-level`): one line per event in either
 * format, and the minimum level. Log lines carry ids and statuses only
 * (src/services/Telemetry.ts).
 */
import { Cause, HashMap, Inspectable, Layer, Logger, LogLevel } from "effect"

export const logFormats = ["pretty", "json"] as const
export type LogFormat = typeof logFormats[number]

export const logLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"] as const
export type LogLevelName = typeof logLevels[number]

const levelOf: Record<LogLevelName, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

const colours: Partial<Record<LogLevel.LogLevel["_tag"], string>> = {
  Trace: "\x1b[90m",
  Debug: "\x1b[34m",
  Info: "\x1b[32m",
  Warning: "\x1b[33m",
  Error: "\x1b[31m",
  Fatal: "\x1b[1;31m"
}

/** A value as it reads in a line: bare when it has no space, quote or line break, else JSON-quoted. */
const field = (value: unknown): string => {
  const text = typeof value === "string" ? value : Inspectable.toStringUnknown(value, 0)
  return /^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text)
}

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => typeof m === "string" ? m : Inspectable.toStringUnknown(m, 0))
    .join(" ")

/**
 * `2026-11-30T13:05:01.120Z INFO  step ended run_id=R-… status=passed`: time, level, the
 * message, then `key=value` annotations (by key); a cause follows as `cause="…"` with its line breaks
 * escaped, so every event is exactly one line (grep and tail -f see whole events).
 */
export const prettyLine = (
  options: Pick<Logger.Logger.Options<unknown>, "logLevel" | "message" | "annotations" | "cause" | "date">,
  colour = false
): string => {
  const level = options.logLevel.label.padEnd(5)
  const parts = [
    options.date.toISOString(),
    colour ? `${colours[options.logLevel._tag] ?? ""}${level}\x1b[0m` : level,
    messageText(options.message).replace(/\r?\n/g, "\\n")
  ]
  // keys in a stable order: the map does not keep the order they were added in
  const entries = HashMap.toEntries(options.annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [key, value] of entries) parts.push(`${key}=${field(value)}`)
  if (!Cause.isEmpty(options.cause)) parts.push(`cause=${JSON.stringify(Cause.pretty(options.cause))}`)
  return parts.join(" ")
}

/** The pretty logger on stdout; colours only on a terminal. */
export const prettyLineLogger = (colour = process.stdout.isTTY === true): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    globalThis.console.log(prettyLine(options, colour))
  })

/** `pretty` is one readable line per event (colours only on a terminal); `json` one object a line. */
export const LoggingLive = (format: LogFormat, level: LogLevelName): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, format === "json" ? Logger.jsonLogger.pipe(Logger.withConsoleLog) : prettyLineLogger()),
    Logger.minimumLogLevel(levelOf[level])
  )
