/**
 * CPU time per P4 step, for comparing two versions of the engine in one sitting on a busy
 * machine (wall time there moves several-fold with the load; CPU µs per step much less).
 * Not part of `npm run bench`. From the repository root:
 *
 *   node --import tsx bench/engine-cpu.ts <root> <seq|fanout> <steps> <trials> [sqlite]
 *
 * `<root>` is a checkout to measure (its `src/` is imported; give it a `node_modules`
 * link to this one), e.g. `git archive <commit> | tar -x -C /tmp/base`. TRACE_OFF=1 runs
 * with Effect's tracer off, as `serve` does without an OTLP endpoint.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
const [root, shape, stepsS, trialsS, storage] = process.argv.slice(2)
const steps = Number(stepsS), trials = Number(trialsS)
const { Effect, Layer, Logger, LogLevel, ManagedRuntime } = await import(`${root}/node_modules/effect/dist/esm/index.js`)
const { EngineLive } = await import(`${root}/src/layers/Engine.${process.env.EXT ?? "ts"}`)
const { MemoryStorage } = await import(`${root}/src/layers/MemoryStorage.${process.env.EXT ?? "ts"}`)
const { SqliteStorage } = await import(`${root}/src/layers/SqliteStorage.${process.env.EXT ?? "ts"}`)
const { EngineConfig } = await import(`${root}/src/services/EngineConfig.${process.env.EXT ?? "ts"}`)
const { Runs } = await import(`${root}/src/services/Runs.${process.env.EXT ?? "ts"}`)
const { SessionDirectory } = await import(`${root}/src/services/SessionDirectory.${process.env.EXT ?? "ts"}`)
const { Sessions } = await import(`${root}/src/services/Sessions.${process.env.EXT ?? "ts"}`)
const step = (at: string, out: string) => ({ kind: "step", ref: "id", in: { op: "path", at }, out })
const flow = shape === "seq" ? { kind: "seq", children: Array.from({ length: steps }, () => step("$.x", "$.x")) }
  : { kind: "fanout", items: { op: "path", at: "$.items" }, bind: "$.item", body: step("$.item", "$.r"), join: "all", out: "$.results" }
const blueprint = { id: "b", agents: [{ name: "id", kind: "builtin", fn: "identity" }], flow }
const input = shape === "seq" ? { x: 1 } : { items: Array.from({ length: steps }, (_, i) => i) }
const res: string[] = []
for (let t = 0; t < trials; t++) {
  const dir = mkdtempSync(join(tmpdir(), "pe-"))
  const st = storage === "sqlite" ? Layer.orDie(SqliteStorage(join(dir, "d"))) : MemoryStorage
  const layer = EngineLive.pipe(Layer.provideMerge(SessionDirectory.fromSessions), Layer.provideMerge(Layer.orDie(Sessions.layer())),
    Layer.provideMerge(st), Layer.provideMerge(EngineConfig.layer({ publicUrl: "http://127.0.0.1:7777" })), Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  const rt = ManagedRuntime.make(layer)
  await rt.runPromise(Effect.void)
  const c0 = process.cpuUsage(); const w0 = performance.now()
  const run = await rt.runPromise(Effect.gen(function*() { const runs = yield* Runs; const { run_id } = yield* runs.launch({ blueprint, input }); return yield* runs.awaitEnd(run_id) }).pipe(Effect.withTracerEnabled(process.env.TRACE_OFF !== '1')))
  const c = process.cpuUsage(c0); const w = performance.now() - w0
  if (run.status !== "done") throw new Error(run.status)
  res.push(`${((c.user + c.system) / steps).toFixed(1)}µs cpu/step wall ${(steps / (w / 1000)).toFixed(0)}/s`)
  await rt.dispose(); rmSync(dir, { recursive: true, force: true })
}
console.log(root.split("/").pop(), shape, storage ?? "memory", res.join(" | "))
