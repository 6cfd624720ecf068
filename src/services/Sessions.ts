/**
 * The registry of live operator sessions (docs/operators.md): login, credential
 * checks, teardown in the specified order, idle expiry. One instance per server; every
 * session lives in its own Scope so teardown closes exactly what login built.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import {
  Clock,
  Context,
  Data,
  Duration,
  Effect,
  Exit,
  HashMap,
  Layer,
  Option,
  Ref,
  Scope
} from "effect"
import { newSessionToken, newSid, type Sid } from "../protocol/ids.js"
import * as OperatorSession from "./OperatorSession.js"
import { type SessionRecord, SessionRepo, type SessionRepoError } from "./repos/SessionRepo.js"
import { type Roles, rolesOf } from "./roles/index.js"

/** 404: no live session has this sid (never existed, torn down, or expired). */
export class UnknownSession extends Data.TaggedError("UnknownSession")<{
  readonly sid: string
  readonly message: string
}> {}

/** 401: the sid is live but the token is not its token. */
export class BadCredential extends Data.TaggedError("BadCredential")<{
  readonly message: string
}> {}

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
  readonly sweep: Effect.Effect<number>
  /** For routes that accept any live session's token. */
  readonly isKnownTokenOfAnySession: (token: string) => Effect.Effect<boolean>
}

interface Live {
  readonly sid: string
  readonly digest: Buffer
  readonly desc?: string
  readonly joinedAt: number
  /** Registration order, the tie-break for equal join times. */
  readonly seq: number
  readonly lastAccess: Ref.Ref<number>
  /** Last access as last written to the repo. */
  readonly persistedAccess: Ref.Ref<number>
  readonly session: OperatorSession.OperatorSessionShape
  readonly roles: Context.Context<Roles>
  readonly scope: Scope.CloseableScope
}

const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest()

const sameDigest = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b)

// Every inbound frame touches its session; writing each one through would put a storage
// write on the hot path for a value only restart uses, where a second is irrelevant.
const persistAccessEveryMs = 1_000

export const make = (
  config: SessionsConfig = {}
): Effect.Effect<SessionsShape, SessionRepoError, Scope.Scope | SessionRepo> =>
  Effect.gen(function*() {
    const repo = yield* SessionRepo
    const horizonMs = Duration.toMillis(Duration.decode(config.idleHorizon ?? Duration.hours(24)))
    const sessionOptions: OperatorSession.OperatorSessionOptions = config.deadlines === undefined
      ? {}
      : { deadlines: config.deadlines }

    // the one map of live sessions, roles included: what the engine sees (SessionDirectory);
    // an entry leaves it in step 2 of teardown, before the session itself goes
    const sessions = yield* Ref.make(HashMap.empty<string, Live>())
    const seqRef = yield* Ref.make(0)

    const lookup = (sid: string) => Effect.map(Ref.get(sessions), HashMap.get(sid))

    const view = (live: Live): Effect.Effect<LiveSession> =>
      Effect.map(Ref.get(live.lastAccess), (lastAccess) => ({
        sid: live.sid,
        ...(live.desc === undefined ? {} : { desc: live.desc }),
        joinedAt: live.joinedAt,
        lastAccess,
        session: live.session,
        roles: live.roles
      }))

    // Build the session and its three roles in the session's own scope, then register.
    const seat = (record: SessionRecord) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const session = yield* OperatorSession.make(record.sid, sessionOptions).pipe(Scope.extend(scope))
        // the Context SessionRoles builds, without building a Layer per session (roles/index.ts)
        const roles = rolesOf(session)
        const live: Live = {
          sid: record.sid,
          digest: Buffer.from(record.tokenDigest, "hex"),
          ...(record.desc === undefined ? {} : { desc: record.desc }),
          joinedAt: record.joinedAt,
          seq: yield* Ref.getAndUpdate(seqRef, (n) => n + 1),
          lastAccess: yield* Ref.make(record.lastAccess),
          persistedAccess: yield* Ref.make(record.lastAccess),
          session,
          roles,
          scope
        }
        yield* Ref.update(sessions, HashMap.set<string, Live>(record.sid, live))
      }).pipe(Effect.uninterruptible)

    const teardown = (sid: string, reason: string) =>
      Effect.gen(function*() {
        const found = yield* lookup(sid)
        if (Option.isNone(found)) return
        const live = found.value
        yield* repo.delete(sid)
        yield* Ref.update(sessions, HashMap.remove(sid))
        yield* live.session.teardown(reason)
        yield* Scope.close(live.scope, Exit.void)
      }).pipe(Effect.uninterruptible)

    const expireIfIdle = (sid: string) =>
      Effect.gen(function*() {
        const found = yield* lookup(sid)
        if (Option.isNone(found)) return false
        const live = found.value
        if ((yield* live.session.state) === "connected") return false
        const now = yield* Clock.currentTimeMillis
        if (now - (yield* Ref.get(live.lastAccess)) <= horizonMs) return false
        return yield* teardown(sid, "idle expiry").pipe(
          Effect.as(true),
          // the stored record could not be deleted: keep the session; the next check retries
          Effect.catchAll((error) =>
            Effect.as(
              Effect.logWarning("idle expiry failed: the stored session record could not be deleted").pipe(
                Effect.annotateLogs({ sid, error: error.message })
              ),
              false
            )
          )
        )
      })

    const touch = (sid: string) =>
      Effect.gen(function*() {
        if (yield* expireIfIdle(sid)) return false
        const found = yield* lookup(sid)
        if (Option.isNone(found)) return false
        const live = found.value
        const now = yield* Clock.currentTimeMillis
        yield* Ref.set(live.lastAccess, now)
        if (now - (yield* Ref.get(live.persistedAccess)) >= persistAccessEveryMs) {
          yield* Ref.set(live.persistedAccess, now)
          yield* repo.touch(sid, now).pipe(
            Effect.catchAll((error) =>
              Effect.logWarning("could not store the session's last access").pipe(
                Effect.annotateLogs({ sid, error: error.message })
              )
            )
          )
        }
        return true
      })

    const login = (desc?: string) =>
      Effect.gen(function*() {
        const sid = newSid()
        const token = newSessionToken()
        const now = yield* Clock.currentTimeMillis
        const record: SessionRecord = {
          sid,
          tokenDigest: digestOf(token).toString("hex"),
          ...(desc === undefined ? {} : { desc }),
          joinedAt: now,
          lastAccess: now
        }
        yield* repo.insert(record)
        yield* seat(record)
        return { sid, token } as const
      }).pipe(Effect.uninterruptible)

    const authenticate = (sid: string, token: string) =>
      Effect.gen(function*() {
        yield* expireIfIdle(sid)
        const found = yield* lookup(sid)
        if (Option.isNone(found)) {
          return yield* Effect.fail(
            new UnknownSession({ sid, message: `no live operator session ${sid}; log in with POST /v1/operators` })
          )
        }
        if (!sameDigest(found.value.digest, digestOf(token))) {
          return yield* Effect.fail(
            new BadCredential({ message: `wrong token for operator session ${sid}; use the token returned at login` })
          )
        }
        return yield* view(found.value)
      })

    const get = (sid: string) =>
      Effect.flatMap(lookup(sid), Option.match({
        onNone: () => Effect.succeed(Option.none<LiveSession>()),
        onSome: (live) => Effect.map(view(live), Option.some)
      }))

    const byJoin = (all: HashMap.HashMap<string, Live>) =>
      Array.from(HashMap.values(all)).sort((a, b) => a.joinedAt - b.joinedAt || a.seq - b.seq)

    const list = () =>
      Effect.flatMap(Ref.get(sessions), (all) =>
        Effect.forEach(byJoin(all), (live) =>
          Effect.gen(function*() {
            const summary: SessionSummary = {
              sid: live.sid,
              ...(live.desc === undefined ? {} : { desc: live.desc }),
              joinedAt: live.joinedAt,
              lastAccess: yield* Ref.get(live.lastAccess),
              connected: (yield* live.session.state) === "connected",
              pending: (yield* live.session.pending).length
            }
            return summary
          })))

    const sweep = Effect.flatMap(Ref.get(sessions), (all) =>
      Effect.map(
        Effect.forEach(HashMap.keys(all), expireIfIdle),
        (expired) => expired.filter(Boolean).length
      ))

    const isKnownTokenOfAnySession = (token: string) =>
      Effect.gen(function*() {
        const digest = digestOf(token)
        let match: Live | undefined
        // compare against every session, not stopping at a match
        for (const live of HashMap.values(yield* Ref.get(sessions))) {
          if (sameDigest(live.digest, digest)) match = live
        }
        if (match === undefined) return false
        return !(yield* expireIfIdle(match.sid))
      })

    // Server shutdown: end every session in memory but keep the stored records, so the
    // sessions come back (disconnected) after a restart (docs/operators.md).
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.getAndSet(sessions, HashMap.empty()), (all) =>
        Effect.forEach(
          HashMap.values(all),
          (live) =>
            Effect.zipRight(live.session.teardown("the server is shutting down"), Scope.close(live.scope, Exit.void)),
          { discard: true }
        ))
    )

    // Restore stored sessions registered but disconnected; drop the ones that expired meanwhile.
    const now = yield* Clock.currentTimeMillis
    for (const record of yield* repo.list()) {
      if (now - record.lastAccess > horizonMs) yield* repo.delete(record.sid)
      else yield* seat(record)
    }

    const shape: SessionsShape = {
      login,
      authenticate,
      get,
      roles: (sid) => Effect.map(lookup(sid), Option.map((live) => live.roles)),
      list,
      teardown,
      touch,
      expireIfIdle,
      sweep,
      isKnownTokenOfAnySession
    }
    return shape
  })

export class Sessions extends Context.Tag("swarmgate/Sessions")<Sessions, SessionsShape>() {
  /** The registry; closing the layer's scope ends every session (stored records stay). */
  static readonly layer = (config: SessionsConfig = {}): Layer.Layer<Sessions, SessionRepoError, SessionRepo> =>
    Layer.scoped(Sessions, make(config))
}
