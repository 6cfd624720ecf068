/**
 * The server's logger (`serve --log-format`, `--log-level`): Effect's pretty or JSON logger
 * in place of the default one, and the minimum level. Log lines carry ids and statuses only
 * (src/services/Telemetry.ts).
 */
import { Layer, Logger, LogLevel } from "effect"

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

/** `pretty` is one readable line per event (colours only on a terminal); `json` one object a line. */
export const LoggingLive = (format: LogFormat, level: LogLevelName): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, format === "json" ? Logger.jsonLogger.pipe(Logger.withConsoleLog) : Logger.prettyLoggerDefault),
    Logger.minimumLogLevel(levelOf[level])
  )
