/** Which storage the repositories use, for `GET /v1/status` and the startup line. */
import { Context, Layer } from "effect"

export interface StorageInfoShape {
  readonly kind: "sqlite" | "memory"
  /** The database file (sqlite). */
  readonly location?: string
}

export class StorageInfo extends Context.Tag("swarmgate/StorageInfo")<StorageInfo, StorageInfoShape>() {
  static readonly memory: Layer.Layer<StorageInfo> = Layer.succeed(StorageInfo, { kind: "memory" })
}
