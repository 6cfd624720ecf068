/**
 * Engine settings: the public base URL written into spawn directives, worker credential
 * lifetimes, the HMAC key of capability tokens, and whether runs get a data path.
 */
import { randomBytes } from "node:crypto"
import { Context, Duration, Layer } from "effect"

export interface EngineConfigShape {
  /** Base URL the sub-agent reaches this server at (no trailing slash needed). */
  readonly publicUrl: string
  /** Lifetime of a worker handle/token. */
  readonly workerTokenTtl: Duration.Duration
  /** A request that waited (seat, reconnect) gets a fresh token when less than this is left. */
  readonly tokenRefreshWindow: Duration.Duration
  /** HMAC-SHA256 key of capability tokens (kept in the data directory so tokens survive a restart). */
  readonly secret: Uint8Array
  /** Whether directives carry the `[Data path]` block. */
  readonly dataPath: boolean
}

export interface EngineConfigInput {
  readonly publicUrl?: string
  readonly workerTokenTtl?: Duration.DurationInput
  readonly tokenRefreshWindow?: Duration.DurationInput
  readonly secret?: Uint8Array
  readonly dataPath?: boolean
}

export const makeEngineConfig = (input: EngineConfigInput = {}): EngineConfigShape => ({
  publicUrl: input.publicUrl ?? "http://127.0.0.1:7777",
  workerTokenTtl: Duration.decode(input.workerTokenTtl ?? "30 minutes"),
  tokenRefreshWindow: Duration.decode(input.tokenRefreshWindow ?? "5 minutes"),
  // a random key is fine for tests and in-memory servers: their tokens die with the process anyway
  secret: input.secret ?? new Uint8Array(randomBytes(32)),
  dataPath: input.dataPath ?? true
})

export class EngineConfig extends Context.Tag("swarmgate/EngineConfig")<EngineConfig, EngineConfigShape>() {
  static readonly layer = (input: EngineConfigInput = {}): Layer.Layer<EngineConfig> =>
    Layer.sync(EngineConfig, () => makeEngineConfig(input))
}
