/**
 * Outputs on the data path (`POST /v1/data/emit`): large payloads stored by id, found again
 * by `out_id` or by name (latest of that name in a run).
 */
import { Context, Effect, Layer, Option } from "effect"
import type { OutputId, RunId } from "../../protocol/ids.js"
import type { OutputRecord } from "../../protocol/records.js"

export type { OutputRecord }

export interface OutputRepoShape {
  readonly put: (output: OutputRecord) => Effect.Effect<void>
  readonly get: (outId: OutputId) => Effect.Effect<Option.Option<OutputRecord>>
  /** The latest output of that name, in that run (or in any run when runId is undefined). */
  readonly latestByName: (runId: RunId | undefined, name: string) => Effect.Effect<Option.Option<OutputRecord>>
}

export class OutputRepo extends Context.Tag("swarmgate/OutputRepo")<OutputRepo, OutputRepoShape>() {
  static readonly memory: Layer.Layer<OutputRepo> = Layer.sync(OutputRepo, () => {
    const store = new Map<string, OutputRecord>()
    return {
      put: (output) => Effect.sync(() => void store.set(output.out_id, output)),
      get: (outId) => Effect.sync(() => Option.fromNullable(store.get(outId))),
      latestByName: (runId, name) =>
        Effect.sync(() =>
          Option.fromNullable(
            [...store.values()].reverse().find((o) => o.name === name && (runId === undefined || o.run_id === runId))
          )
        )
    }
  })
}
