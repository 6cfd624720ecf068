/**
 * Where `GET /v1/status` reads `running_runs` from: the engine's Runs (`fromRuns`), or
 * `none` (0) for a server built without an engine (some tests).
 */
import { Context, Effect, Layer } from "effect"
import { Runs } from "../services/Runs.js"

export class RunningRuns extends Context.Tag("swarmgate/RunningRuns")<RunningRuns, {
  readonly count: Effect.Effect<number>
}>() {
  static readonly none: Layer.Layer<RunningRuns> = Layer.succeed(RunningRuns, { count: Effect.succeed(0) })

  static readonly fromRuns: Layer.Layer<RunningRuns, never, Runs> = Layer.effect(
    RunningRuns,
    Effect.map(Runs, (runs) => ({
      count: Effect.map(runs.list({ status: "running" }), (list) => list.length)
    }))
  )
}
