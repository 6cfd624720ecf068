/** How the benchmarks run the app in their own process. */
import { Layer, Logger, LogLevel } from "effect"
import { withoutTracingLayer } from "../src/layers/Tracing.js"

/** `layer` as `serve` runs it without an OTLP endpoint (no spans), logging warnings only. */
export const asServed = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  layer.pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)), withoutTracingLayer)
