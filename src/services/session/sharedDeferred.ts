/**
 * `Deferred.unsafeMake` copies the whole commit prototype into every new Deferred (an
 * object spread of ~20 keys): 3–15 µs and a dictionary-mode object per request. This
 * builds the same object — the fields and methods Effect gives a Deferred, read once
 * from a real one — with the methods on a shared prototype, so a Deferred costs one
 * small object. Every `Deferred.*` function works on it unchanged (tested beside it).
 */
import { Deferred, FiberId, MutableRef } from "effect"

const template = Deferred.unsafeMake<unknown, unknown>(FiberId.none)
// everything but the per-instance state, on one shared object
const proto: object = Object.create(Object.getPrototypeOf(template))
for (const key of Reflect.ownKeys(template)) {
  if (key !== "state" && key !== "blockingOn") {
    Object.defineProperty(proto, key, Object.getOwnPropertyDescriptor(template, key)!)
  }
}
const pendingState = MutableRef.get((template as unknown as { readonly state: MutableRef.MutableRef<object> }).state)

/** A fresh, pending `Deferred`, as `Deferred.unsafeMake(fiberId)` would make it. */
export const makeDeferred = <A, E = never>(fiberId: FiberId.FiberId = FiberId.none): Deferred.Deferred<A, E> => {
  const deferred = Object.create(proto) as { state: MutableRef.MutableRef<object>; blockingOn: FiberId.FiberId }
  // the pending state with a joiner list of its own
  deferred.state = MutableRef.make({ ...pendingState, joiners: [] })
  deferred.blockingOn = fiberId
  return deferred as unknown as Deferred.Deferred<A, E>
}
