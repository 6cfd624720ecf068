/**
 * The registry of live operator sessions (docs/operators.md): login, credential
 * checks, teardown in the specified order, idle expiry. One instance per server; every
 * session lives in its own Scope so teardown closes exactly what login built. This file is
 * its contract; the registry itself is `session/registry.ts`.
 */
import { Context, type Duration, type Effect, Layer, type Option } from "effect"
import type { Sid } from "../protocol/ids.js"
import type * as OperatorSession from "./OperatorSession.js"
import type { SessionRepo, SessionRepoError } from "./repos/SessionRepo.js"
import type { Roles } from "./roles/index.js"
import type { BadCredential, UnknownSession } from "./session/credentialErrors.js"
import { make } from "./session/registry.js"

export { BadCredential, UnknownSession } from "./session/credentialErrors.js"
export { make } from "./session/registry.js"

export interface SessionsConfig {
  /** A disconnected session idle longer than this is torn down (docs/operators.md, idle expiry). Default 24 hours. */
  readonly idleHorizon?: Duration.DurationInput
  readonly deadlines?: OperatorSession.SessionDeadlines
}

/** A live session as the registry holds it; `lastAccess` is read when the view is taken. */
export interface LiveSession {
  readonly sid: string
  readonly desc?: string
  /** Clock millis. */
  readonly joinedAt: number
  /** Clock millis. */
  readonly lastAccess: number
  readonly session: OperatorSession.OperatorSessionShape
  readonly roles: Context.Context<Roles>
}

/** One row of `GET /v1/operators`. */
export interface SessionSummary {
  readonly sid: string
  readonly desc?: string
  readonly joinedAt: number
  readonly lastAccess: number
  readonly connected: boolean
  readonly pending: number
}

export interface SessionsShape {
  /** A new session, registered and disconnected; the token is returned only here. */
  readonly login: (desc?: string) => Effect.Effect<{ readonly sid: Sid; readonly token: string }, SessionRepoError>
  /** Expiry is checked first, so an idle-expired sid is UnknownSession. Does not record access. */
  readonly authenticate: (sid: string, token: string) => Effect.Effect<LiveSession, UnknownSession | BadCredential>
  readonly get: (sid: string) => Effect.Effect<Option.Option<LiveSession>>
  /** The role Context of a registered sid (None once teardown has unregistered it). */
  readonly roles: (sid: string) => Effect.Effect<Option.Option<Context.Context<Roles>>>
  /** Oldest join first. */
  readonly list: () => Effect.Effect<ReadonlyArray<SessionSummary>>
  /** docs/operators.md, Teardown; fails only when deleting the stored record fails, and then changes nothing. */
  readonly teardown: (sid: string, reason: string) => Effect.Effect<void, SessionRepoError>
  /** Record an access now, after the expiry check; false when the sid is unknown or just expired. */
  readonly touch: (sid: string) => Effect.Effect<boolean>
  /** Tear the session down if it has no socket and was last accessed longer ago than the horizon. */
  readonly expireIfIdle: (sid: string) => Effect.Effect<boolean>
  /** expireIfIdle over every session; the number expired. */
  readonly expireIdle: Effect.Effect<number>
  /** expireIdle, as the periodic sweep (its time is recorded). */
  readonly sweep: Effect.Effect<number>
  /** Clock millis of the last sweep, if one ran. */
  readonly lastSweepAt: Effect.Effect<Option.Option<number>>
  /** Run `f` in step 2 of every teardown (the session still exists, its requests not yet failed). */
  readonly onTeardown: (f: (sid: string) => Effect.Effect<void>) => Effect.Effect<void>
  /** For routes that accept any live session's token. */
  readonly isKnownTokenOfAnySession: (token: string) => Effect.Effect<boolean>
}

export class Sessions extends Context.Tag("swarmgate/Sessions")<Sessions, SessionsShape>() {
  /** The registry; closing the layer's scope ends every session (stored records stay). */
  static readonly layer = (config: SessionsConfig = {}): Layer.Layer<Sessions, SessionRepoError, SessionRepo> =>
    Layer.scoped(Sessions, make(config))
}
