/**
 * What the server tells its operators about itself (docs/observability.md): the metric
 * definitions behind `GET /v1/metrics`, and the log lines and metrics derived from the run
 * event log. Everything here carries ids, refs, statuses and durations only: never a token,
 * a worker handle or a body (prompts, replies, results).
 */
import { Cause, Duration, Effect, Exit, FiberRef, LogLevel, Metric, MetricBoundaries, MetricKey, type MetricKeyType, MetricLabel, Option } from "effect"
import type { RunEvent } from "../protocol/records.js"

/** Seconds, from 5 ms to about 1.5 h: covers a quick reply up to a long sub-agent step. */
const secondsBoundaries = MetricBoundaries.exponential({ start: 0.005, factor: 4, count: 12 })

/** The keys of the metrics that are tagged per update (`taggedOnce`). */
export const metricKeys = {
  stepSeconds: MetricKey.histogram(
    "swarmgate_step_duration_seconds",
    secondsBoundaries,
    "time from a step's start to its end, by agent ref and status"
  ),
  requestSeconds: MetricKey.histogram(
    "swarmgate_operator_request_duration_seconds",
    secondsBoundaries,
    "round trip of an operator request (sent until answered, withdrawn or timed out), by kind and outcome"
  ),
  httpRequests: MetricKey.counter("swarmgate_http_requests_total", {
    description: "HTTP requests answered, by route and status",
    incremental: true
  })
} as const

export const metrics = {
  sessions: Metric.gauge("swarmgate_sessions", { description: "operator sessions, by state (connected or all)" }),
  pending: Metric.gauge("swarmgate_pending_requests", {
    description: "requests waiting for an operator's reply, by kind"
  }),
  runsRunning: Metric.gauge("swarmgate_runs_running", { description: "runs executing now" }),
  runsEnded: Metric.counter("swarmgate_runs_ended_total", {
    description: "runs that ended (or were interrupted by a shutdown), by status",
    incremental: true
  })
} as const

/** The request kinds a session can owe a reply for; each gets a gauge row even at 0. */
export const pendingKinds = ["ask", "hook_before", "spawn"] as const

const millisOf = (iso: string) => Date.parse(iso)

/**
 * Turns run events into log lines and metrics. Start times are held per run and per step
 * only until the matching end, so the maps stay as small as the work in flight.
 */
/**
 * A log line whose annotations are only built when its level is on: the engine logs every
 * step, and under the default level (info) the debug line costs one FiberRef read.
 */
const logAt = (level: LogLevel.LogLevel, message: string, annotations: () => Record<string, unknown>) =>
  Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (min) =>
    LogLevel.lessThan(level, min)
      ? Effect.void
      : Effect.logWithLevel(level, message).pipe(Effect.annotateLogs(annotations())))

/**
 * The metric of `key` tagged with `names` = the given values, made once per distinct values
 * and kept. Tagged in its key, not with `Metric.tagged`: a `Metric.tagged` metric unions its
 * tags into a new array on every update, so Effect builds and hashes a new key (and looks
 * it up in the registry) per request or step. Bounded, because some values come from
 * users (blueprint refs): past `max` the cache starts over.
 */
export const taggedOnce = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  names: ReadonlyArray<string>,
  max = 1_000
) => {
  type Tagged = Metric.Metric<Type, MetricKeyType.MetricKeyType.InType<Type>, MetricKeyType.MetricKeyType.OutType<Type>>
  const cache = new Map<string, Tagged>()
  return (...values: ReadonlyArray<string>): Tagged => {
    const id = values.join("\u0000")
    let metric = cache.get(id)
    if (metric === undefined) {
      if (cache.size >= max) cache.clear()
      metric = Metric.fromMetricKey(
        MetricKey.taggedWithLabels(key, names.map((name, i) => MetricLabel.make(name, values[i] ?? "")))
      )
      cache.set(id, metric)
    }
    return metric
  }
}

/** Step durations by (ref, status). */
const stepSecondsOf = taggedOnce(metricKeys.stepSeconds, ["ref", "status"])

export const makeEventObserver = () => {
  const runStarts = new Map<string, number>()
  const stepStarts = new Map<string, number>()
  return (event: RunEvent): Effect.Effect<void> => {
    switch (event.type) {
      case "run_started":
        runStarts.set(event.run_id, millisOf(event.at))
        return Effect.logInfo("run started").pipe(Effect.annotateLogs({ run_id: event.run_id }))
      case "step_started":
        if (event.step_id !== undefined) stepStarts.set(event.step_id, millisOf(event.at))
        return logAt(LogLevel.Debug, "step started", () => ({
          run_id: event.run_id,
          step_id: event.step_id,
          ref: event.ref,
          attempt: event.attempt
        }))
      case "step_finished": {
        const started = event.step_id === undefined ? undefined : stepStarts.get(event.step_id)
        if (event.step_id !== undefined) stepStarts.delete(event.step_id)
        const ms = started === undefined ? undefined : Math.max(0, millisOf(event.at) - started)
        const status = event.status ?? "unknown"
        return Effect.zipRight(
          ms === undefined ? Effect.void : Metric.update(stepSecondsOf(event.ref ?? "", status), ms / 1000),
          logAt(LogLevel.Info, "step ended", () => ({
            run_id: event.run_id,
            step_id: event.step_id,
            ref: event.ref,
            status,
            attempt: event.attempt,
            ...(ms === undefined ? {} : { duration_ms: ms })
          }))
        )
      }
      case "run_finished":
      case "run_interrupted": {
        const started = runStarts.get(event.run_id)
        runStarts.delete(event.run_id)
        const ms = started === undefined ? undefined : Math.max(0, millisOf(event.at) - started)
        const status = event.status ?? "unknown"
        return Effect.zipRight(
          Metric.update(metrics.runsEnded.pipe(Metric.tagged("status", status)), 1),
          Effect.logInfo(event.type === "run_finished" ? "run ended" : "run interrupted").pipe(Effect.annotateLogs({
            run_id: event.run_id,
            status,
            ...(ms === undefined ? {} : { duration_ms: ms })
          }))
        )
      }
      default:
        return Effect.void
    }
  }
}

/** Records the round trip of one operator request; `outcome` is `ok`, or the error's tag. */
export const trackRequest = (kind: string) =>
<A, E extends { readonly _tag: string }, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const timed = Effect.timed(Effect.exit(self)).pipe(
    Effect.flatMap(([duration, exit]) => {
      const outcome = Exit.isSuccess(exit)
        ? "ok"
        : Option.match(Cause.failureOption(exit.cause), { onNone: () => "interrupted", onSome: (e) => e._tag })
      return Effect.zipRight(Metric.update(requestSecondsOf(kind, outcome), Duration.toSeconds(duration)), exit)
    })
  )
  // with tracing off (no OTLP endpoint) not even a no-op span: it costs a context copy per request
  return Effect.withFiberRuntime((fiber) =>
    fiber.getFiberRef(FiberRef.currentTracerEnabled)
      ? // no stack trace: capturing one (an Error per request) was ~2% of the round trip's CPU
        Effect.withSpan(timed, "operator request", {
          attributes: { "swarmgate.request.kind": kind },
          kind: "client",
          captureStackTrace: false
        })
      : timed
  )
}

const requestSecondsOf = taggedOnce(metricKeys.requestSeconds, ["kind", "outcome"])
