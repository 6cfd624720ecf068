/**
 * Tracing off costs nothing per request (docs/observability.md): with Effect's tracer
 * disabled (serve without OTEL_EXPORTER_OTLP_ENDPOINT) an operator request enters no span at
 * all, not even a no-op one; with it enabled the span is there.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { trackRequest } from "../../src/services/Telemetry.js"

const parentSpanInside = trackRequest("ask")(Effect.option(Effect.currentParentSpan))

describe("operator request span", () => {
  it.effect("is not entered when the tracer is disabled", () =>
    Effect.gen(function*() {
      expect(Option.isNone(yield* parentSpanInside.pipe(Effect.withTracerEnabled(false)))).toBe(true)
    }))

  it.effect("is entered, named and tagged when the tracer is enabled", () =>
    Effect.gen(function*() {
      const span = yield* parentSpanInside
      expect(Option.map(span, (s) => s._tag === "Span" ? [s.name, s.attributes.get("swarmgate.request.kind")] : s._tag))
        .toEqual(Option.some(["operator request", "ask"]))
    }))
})
