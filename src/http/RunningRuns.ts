/**
 * Where `GET /v1/status` reads `running_runs` from. The engine provides its own layer;
 * until then `RunningRuns.none` answers 0.
 */
import { Context, Effect, Layer } from "effect"

export class RunningRuns extends Context.Tag("swarmgate/RunningRuns")<RunningRuns, {
  readonly count: Effect.Effect<number>
}>() {
  static readonly none: Layer.Layer<RunningRuns> = Layer.succeed(RunningRuns, { count: Effect.succeed(0) })
}
