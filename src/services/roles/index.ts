import { Layer } from "effect"
import type { OperatorSession } from "../OperatorSession.js"
import { Operator } from "./Operator.js"
import { SeniorBridge } from "./SeniorBridge.js"
import { SpawnHook } from "./SpawnHook.js"

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
