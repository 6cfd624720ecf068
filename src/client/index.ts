/** The operator client library: the typed HTTP client and the operator connection. */
export { call, DEFAULT_SERVER, explain, HttpLive, makeApiClient, normalizeServer } from "./api.js"
export type { ApiClient } from "./api.js"
export { ConnectionEnded, ServerUnreachable, UnexpectedAnswer } from "./errors.js"
export type { ConnectionEndReason } from "./errors.js"
export { connectOperator, reconnectSchedule } from "./OperatorConnection.js"
export type {
  ConnectionStatus,
  ConnectOptions,
  Incoming,
  OperatorConnection,
  SpawnAckOptions
} from "./OperatorConnection.js"
export { followRun } from "./events.js"
export type { RunEvent } from "./events.js"
