/** Errors of the client library (Data.TaggedError: they never cross the wire). */
import { Data } from "effect"

/** Nothing answers at the server URL (connection refused, unknown host). */
export class ServerUnreachable extends Data.TaggedError("ServerUnreachable")<{ readonly server: string }> {
  override get message() {
    return `cannot reach a swarmgate server at ${this.server}: start one with \`swarmgate serve\`, ` +
      `or point --server (env SWARMGATE_URL) at a running one`
  }
}

/** The server answered with something the client does not understand (a different version?). */
export class UnexpectedAnswer extends Data.TaggedError("UnexpectedAnswer")<{
  readonly server: string
  readonly detail: string
}> {
  override get message() {
    return `unexpected answer from ${this.server}: ${this.detail} (is it a swarmgate server of the same version?)`
  }
}

/** Why an operator connection stopped for good; anything else is retried. */
export type ConnectionEndReason =
  | "torn_down" // the session was torn down (close 1000 from the server, or logout)
  | "replaced" // another socket took over this session (close 4000)
  | "session_gone" // the sid is unknown or expired (404 before the upgrade)
  | "bad_token" // the token is not this session's (401 before the upgrade)

export class ConnectionEnded extends Data.TaggedError("ConnectionEnded")<{
  readonly reason: ConnectionEndReason
  readonly detail: string
}> {
  override get message() {
    return this.detail
  }
}
