/**
 * The HMAC key of capability tokens. Storage provides it: random per process in memory,
 * kept in the data directory with SQLite, so tokens and handles survive a restart.
 */
import { randomBytes } from "node:crypto"
import { Context, Layer } from "effect"

export class ServerSecret extends Context.Tag("swarmgate/ServerSecret")<ServerSecret, Uint8Array>() {
  /** A fresh random key: fine while every credential dies with the process anyway. */
  static readonly memory: Layer.Layer<ServerSecret> = Layer.sync(ServerSecret, () => new Uint8Array(randomBytes(32)))
}
