/**
 * OpenTelemetry traces (docs/observability.md): spans per HTTP request, run, step and
 * operator request, one trace per run; none at all when tracing is off.
 */
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { OtelLive, withoutTracing } from "../../src/layers/Tracing.js"
import { oneOperatorStep, startWith } from "./harness.js"

const quiet = Logger.minimumLogLevel(LogLevel.Warning)

/** The SDK shuts its exporter down when the server stops, and the in-memory one forgets then: keep them. */
class KeepingExporter extends InMemorySpanExporter {
  override shutdown() {
    return Promise.resolve()
  }
}

const parentOf = (span: ReadableSpan): string | undefined =>
  (span as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId

describe("tracing", () => {
  it("one run reads as one trace: launch request → run → step → operator requests", async () => {
    const exporter = new KeepingExporter()
    const server = await startWith(Layer.merge(quiet, OtelLive(new SimpleSpanProcessor(exporter))))
    let secrets
    try {
      secrets = await oneOperatorStep(server, "observe-trace")
    } finally {
      await server.close()
    }
    const spans = exporter.getFinishedSpans()
    const named = (name: string) => spans.filter((s) => s.name === name)
    const run = named("run").find((s) => s.attributes["swarmgate.run_id"] === secrets.runId)
    expect(run, `spans: ${spans.map((s) => s.name).join(", ")}`).toBeDefined()
    const launch = spans.find((s) => s.spanContext().spanId === parentOf(run!))
    expect(launch?.name).toMatch(/POST/)
    const step = named("step").find((s) => parentOf(s) === run!.spanContext().spanId)
    expect(step?.attributes).toMatchObject({ "swarmgate.ref": "worker", "swarmgate.attempt": 1 })
    const requests = named("operator request").filter((s) => s.spanContext().traceId === run!.spanContext().traceId)
    expect(requests.map((s) => s.attributes["swarmgate.request.kind"]).sort()).toEqual(["hook_before", "spawn"])
    expect(new Set([launch, run, step, ...requests].map((s) => s!.spanContext().traceId)).size).toBe(1)
    // a span per HTTP request: the worker's prompt fetch is one, with the credential redacted
    const prompt = spans.find((s) => s.attributes["url.path"] === "/v1/worker/prompt")
    expect(prompt?.kind).toBe(1) // server
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(secrets.workerHandle)
  })

  it("off: no span reaches the SDK, even with one installed", async () => {
    const exporter = new KeepingExporter()
    await Effect.runPromise(
      Effect.void.pipe(Effect.withSpan("would-be-span"), withoutTracing, Effect.provide(OtelLive(new SimpleSpanProcessor(exporter))))
    )
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    await Effect.runPromise(
      Effect.void.pipe(Effect.withSpan("real-span"), Effect.provide(OtelLive(new SimpleSpanProcessor(exporter))))
    )
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(["real-span"])
  })
})
