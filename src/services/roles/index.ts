import { Context, Layer } from "effect"
import type { OperatorSession, OperatorSessionShape } from "../OperatorSession.js"
import { makeOperator, Operator } from "./Operator.js"
import { makeSeniorBridge, SeniorBridge } from "./SeniorBridge.js"
import { makeSpawnHook, SpawnHook } from "./SpawnHook.js"

export { Operator } from "./Operator.js"
export type { SpawnContext, WorkerResult } from "./Operator.js"
export { SeniorBridge } from "./SeniorBridge.js"
export type { AskInput } from "./SeniorBridge.js"
export { SpawnHook } from "./SpawnHook.js"
export type { HookContext } from "./SpawnHook.js"

/** The three faces of one operator session. */
export type Roles = SeniorBridge | SpawnHook | Operator

/** All three roles over the `OperatorSession` in context: "one connection, three faces". */
export const SessionRoles: Layer.Layer<Roles, never, OperatorSession> = Layer.mergeAll(
  SeniorBridge.fromSession,
  SpawnHook.fromSession,
  Operator.fromSession
)

/**
 * The Context `SessionRoles` builds, made straight from the same constructors. The registry
 * holds one per live session, and building a Layer for each (a memo map, a scope and a
 * runtime apiece) cost about 30 KiB per idle session; the roles need no scope of their own.
 */
export const rolesOf = (session: OperatorSessionShape): Context.Context<Roles> =>
  Context.make(SeniorBridge, makeSeniorBridge(session)).pipe(
    Context.add(SpawnHook, makeSpawnHook(session)),
    Context.add(Operator, makeOperator(session))
  )
