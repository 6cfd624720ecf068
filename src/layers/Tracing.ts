/**
 * OpenTelemetry traces (docs/observability.md). With `OTEL_EXPORTER_OTLP_ENDPOINT` set, Effect's
 * spans (one per HTTP request, run, step and operator request) go through the OTel SDK to
 * that OTLP/HTTP endpoint; without it, Effect's tracer and the HTTP tracing middleware are
 * switched off, so no span is made at all.
 */
import { HttpMiddleware } from "@effect/platform"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, Layer, Option } from "effect"
import { version } from "../version.js"

/** The SDK with `processor` (tests pass a SimpleSpanProcessor over an in-memory exporter). */
export const OtelLive = (processor: SpanProcessor): Layer.Layer<never> =>
  Layer.discard(NodeSdk.layer(() => ({
    resource: { serviceName: "swarmgate", serviceVersion: version },
    spanProcessor: processor
  })))

/** No tracer work at all: Effect's spans are no-ops and the HTTP middleware skips its span. */
export const withoutTracing = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  self.pipe(Effect.withTracerEnabled(false), HttpMiddleware.withTracerDisabledWhenEffect(() => true))

/** `withoutTracing` for a layer built outside `serve` (the benchmarks run the app as a layer). */
export const withoutTracingLayer = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  layer.pipe(HttpMiddleware.withTracerDisabledWhen(() => true), Layer.provide(Layer.setTracerEnabled(false)))

/**
 * Runs `self` traced to OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the exporter reads
 * that and the other standard `OTEL_EXPORTER_OTLP_*` variables itself), untraced otherwise.
 */
export const TracingLive = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Config.option(Config.nonEmptyString("OTEL_EXPORTER_OTLP_ENDPOINT")).pipe(Effect.orElseSucceed(Option.none)),
    (endpoint) =>
      Option.isNone(endpoint)
        ? withoutTracing(self)
        : Effect.provide(self, OtelLive(new BatchSpanProcessor(new OTLPTraceExporter())))
  )
