/**
 * Worker capabilities (handles and tokens), keyed by the SHA-256 digest of the credential:
 * the plaintext is never stored.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { CapabilityRecord } from "../../protocol/records.js"

export type { CapabilityRecord }

export interface CapabilityRepoShape {
  /** Insert or replace (a re-mint moves a handle's expiry). */
  readonly put: (record: CapabilityRecord) => Effect.Effect<void>
  readonly get: (digest: string) => Effect.Effect<Option.Option<CapabilityRecord>>
}

export class CapabilityRepo extends Context.Tag("swarmgate/CapabilityRepo")<CapabilityRepo, CapabilityRepoShape>() {
  static readonly memory: Layer.Layer<CapabilityRepo> = Layer.sync(CapabilityRepo, () => {
    const store = new Map<string, CapabilityRecord>()
    return {
      put: (record) => Effect.sync(() => void store.set(record.digest, record)),
      get: (digest) => Effect.sync(() => Option.fromNullable(store.get(digest)))
    }
  })
}
