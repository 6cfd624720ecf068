/**
 * The registry of live operator sessions behind `Sessions` (its contract and errors are in
 * `Sessions.ts`): one map of live sessions, roles included, and every operation on it.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Clock, type Context, Duration, Effect, Exit, HashMap, Option, Ref, Scope } from "effect"
import { newSessionToken, newSid } from "../../protocol/ids.js"
import * as OperatorSession from "../OperatorSession.js"
import { type SessionRecord, SessionRepo, type SessionRepoError } from "../repos/SessionRepo.js"
import { type Roles, rolesOf } from "../roles/index.js"
import type { LiveSession, SessionsConfig, SessionsShape, SessionSummary } from "../Sessions.js"
import { BadCredential, UnknownSession } from "./credentialErrors.js"

interface Live {
  readonly sid: string
  readonly digest: Buffer
  readonly desc?: string
  readonly joinedAt: number
  /** Registration order, the tie-break for equal join times. */
  readonly seq: number
  // plain fields (only the registry writes them, on one JS thread): a Ref apiece cost about
  // 250 bytes per idle session
  lastAccess: number
  /** Last access as last written to the repo. */
  persistedAccess: number
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
    const teardownHooks = yield* Ref.make<ReadonlyArray<(sid: string) => Effect.Effect<void>>>([])
    const lastSweep = yield* Ref.make(Option.none<number>())

    const lookup = (sid: string) => Effect.map(Ref.get(sessions), HashMap.get(sid))

    const view = (live: Live): Effect.Effect<LiveSession> =>
      Effect.sync(() => ({
        sid: live.sid,
        ...(live.desc === undefined ? {} : { desc: live.desc }),
        joinedAt: live.joinedAt,
        lastAccess: live.lastAccess,
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
          lastAccess: record.lastAccess,
          persistedAccess: record.lastAccess,
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
        // step 2: the engine lets go of it (its seats are vacated) before its requests fail
        yield* Effect.forEach(yield* Ref.get(teardownHooks), (f) => f(sid), { discard: true })
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
        if (now - live.lastAccess <= horizonMs) return false
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
        live.lastAccess = now
        if (now - live.persistedAccess >= persistAccessEveryMs) {
          live.persistedAccess = now
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
        yield* Effect.logInfo("operator login").pipe(Effect.annotateLogs({ sid, ...(desc === undefined ? {} : { desc }) }))
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
              lastAccess: live.lastAccess,
              connected: (yield* live.session.state) === "connected",
              pending: (yield* live.session.pending).length
            }
            return summary
          })))

    const expireIdle = Effect.flatMap(Ref.get(sessions), (all) =>
      Effect.map(
        Effect.forEach(HashMap.keys(all), expireIfIdle),
        (expired) => expired.filter(Boolean).length
      ))
    // the periodic sweep: GET /v1/status reports when it last ran
    const sweep = Effect.zipLeft(
      expireIdle,
      Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.set(lastSweep, Option.some(now)))
    )

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
      expireIdle,
      sweep,
      lastSweepAt: Ref.get(lastSweep),
      onTeardown: (f) => Ref.update(teardownHooks, (hooks) => [...hooks, f]),
      isKnownTokenOfAnySession
    }
    return shape
  })
