/**
 * Serialises the transitions of a step's record that race with worker input: a submit must
 * either land before the engine reads the submission (and count) or be refused with 410.
 * One permit for all steps: the guarded sections are a read and a write of one record.
 */
import { Context, Effect, Layer } from "effect"

export class StepGate extends Context.Tag("swarmgate/StepGate")<StepGate, {
  readonly locked: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}>() {
  static readonly layer: Layer.Layer<StepGate> = Layer.effect(
    StepGate,
    Effect.map(Effect.makeSemaphore(1), (sem) => ({
      locked: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.uninterruptible(sem.withPermits(1)(effect))
    }))
  )
}
