/**
 * `GET /v1/metrics`: Effect's metric registry (src/services/Telemetry.ts) read through
 * `@effect/opentelemetry`'s metric producer and written by the Prometheus exporter's
 * serializer. Gauges of current state (sessions, pending requests, running runs) are set
 * from the registry and the engine just before each scrape.
 */
import { HttpApiBuilder } from "@effect/platform"
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Effect, Metric } from "effect"
import { Sessions } from "../services/Sessions.js"
import { metrics, pendingKinds } from "../services/Telemetry.js"
import { version } from "../version.js"
import { Api } from "./Api.js"
import { RunningRuns } from "./RunningRuns.js"

const refreshGauges = Effect.gen(function*() {
  const sessions = yield* Sessions
  const runs = yield* RunningRuns
  yield* sessions.sweep
  const all = yield* sessions.list()
  yield* Metric.set(metrics.sessions.pipe(Metric.tagged("state", "all")), all.length)
  yield* Metric.set(metrics.sessions.pipe(Metric.tagged("state", "connected")), all.filter((s) => s.connected).length)
  const byKind = new Map<string, number>(pendingKinds.map((k) => [k, 0]))
  for (const summary of all) {
    const live = yield* sessions.get(summary.sid)
    if (live._tag === "None") continue
    for (const info of yield* live.value.session.pending) byKind.set(info.kind, (byKind.get(info.kind) ?? 0) + 1)
  }
  for (const [kind, n] of byKind) yield* Metric.set(metrics.pending.pipe(Metric.tagged("kind", kind)), n)
  yield* Metric.set(metrics.runsRunning, yield* runs.count)
})

export const MetricsLive = HttpApiBuilder.group(Api, "metrics", (handlers) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<Sessions | RunningRuns>()
    const producer = yield* OtelMetrics.makeProducer.pipe(
      Effect.provide(OtelResource.layer({ serviceName: "swarmgate", serviceVersion: version }))
    )
    const serializer = new PrometheusSerializer()
    return handlers.handle("metrics", () =>
      Effect.gen(function*() {
        yield* refreshGauges.pipe(Effect.provide(context))
        const { resourceMetrics } = yield* Effect.promise(() => producer.collect())
        return serializer.serialize(resourceMetrics)
      }))
  }))
