/**
 * Several writes committed together: the engine hands storage one step's record and events
 * at once (one commit instead of four). In memory every write is already final, so this is
 * the identity; on SQL it is one transaction, and a read in another fiber sees all of it or
 * none of it.
 */
import { Context, type Effect, Layer } from "effect"

export interface TransactionsShape {
  readonly atomically: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export class Transactions extends Context.Tag("swarmgate/Transactions")<Transactions, TransactionsShape>() {
  static readonly memory: Layer.Layer<Transactions> = Layer.succeed(Transactions, { atomically: (self) => self })
}
