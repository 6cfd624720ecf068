/**
 * Stored blueprints with their versions (counting from 1 per id).
 * Storage-agnostic: plain records in and out; the memory layer is for tests and `--memory`.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Blueprint } from "../../protocol/blueprint.js"
import type { BlueprintRecord, BlueprintSummary } from "../../protocol/records.js"

export type { BlueprintRecord, BlueprintSummary }

export interface BlueprintRepoShape {
  /** Store a new version (latest + 1, or 1 for a new or deleted id). */
  readonly put: (id: string, blueprint: Blueprint, at: string) => Effect.Effect<BlueprintRecord>
  /** The latest version, or the given one. */
  readonly get: (id: string, version?: number) => Effect.Effect<Option.Option<BlueprintRecord>>
  /** Latest version of every id, sorted by id. */
  readonly list: Effect.Effect<ReadonlyArray<BlueprintSummary>>
  /** Drop every version; false when the id was unknown. */
  readonly remove: (id: string) => Effect.Effect<boolean>
}

export class BlueprintRepo extends Context.Tag("swarmgate/BlueprintRepo")<BlueprintRepo, BlueprintRepoShape>() {
  static readonly memory: Layer.Layer<BlueprintRepo> = Layer.effect(
    BlueprintRepo,
    Effect.sync(() => {
      // owned by this layer instance; every access is one synchronous step, so no lock
      const store = new Map<string, Array<BlueprintRecord>>()
      return {
        put: (id, blueprint, at) =>
          Effect.sync(() => {
            const versions = store.get(id) ?? []
            const record: BlueprintRecord = { id, version: versions.length + 1, blueprint, updated_at: at }
            store.set(id, [...versions, record])
            return record
          }),
        get: (id, version) =>
          Effect.sync(() => {
            const versions = store.get(id) ?? []
            return Option.fromNullable(version === undefined ? versions.at(-1) : versions[version - 1])
          }),
        list: Effect.sync(() =>
          [...store.values()]
            .flatMap((versions) => versions.slice(-1))
            .map(({ id, updated_at, version }) => ({ id, version, updated_at }))
            .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
        ),
        remove: (id) => Effect.sync(() => store.delete(id))
      }
    })
  )
}
