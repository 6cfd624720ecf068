import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Queue, Scope, TestClock } from "effect"
import type { AskFrame } from "../../src/protocol/frames.js"
import { isSessionToken, isSid, newSessionToken, StepId } from "../../src/protocol/ids.js"
import { SessionTornDown } from "../../src/services/OperatorErrors.js"
import { Operator, SeniorBridge, SpawnHook } from "../../src/services/roles/index.js"
import {
  makeMemory,
  type SessionRecord,
  SessionRepo,
  SessionRepoError,
  type SessionRepoShape
} from "../../src/services/repos/SessionRepo.js"
import { BadCredential, make, Sessions, type SessionsConfig, UnknownSession } from "../../src/services/Sessions.js"
import { askBody, drain, waitForPending } from "./helpers.js"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")

/** A registry over a repo the test can also read (and break). */
const setup = (config: SessionsConfig = {}, repo?: SessionRepoShape) =>
  Effect.gen(function*() {
    const store = repo ?? (yield* makeMemory)
    const sessions = yield* make(config).pipe(Effect.provideService(SessionRepo, store))
    return { sessions, repo: store }
  })

const live = <A>(option: Option.Option<A>): A => Option.getOrThrowWith(option, () => new Error("expected Some"))

describe("Sessions", () => {
  it.scoped("login then authenticate: right token, wrong token, unknown sid", () =>
    Effect.gen(function*() {
      const { sessions } = yield* setup()
      const { sid, token } = yield* sessions.login("laptop")
      expect(isSid(sid)).toBe(true)
      expect(isSessionToken(token)).toBe(true)

      const ok = yield* sessions.authenticate(sid, token)
      expect(ok).toMatchObject({ sid, desc: "laptop", joinedAt: 0, lastAccess: 0 })
      expect(yield* ok.session.state).toBe("disconnected")

      const wrong = failureOf(yield* Effect.exit(sessions.authenticate(sid, newSessionToken())))
      expect(wrong).toBeInstanceOf(BadCredential)
      expect(wrong.message).not.toContain(token)
      const garbage = failureOf(yield* Effect.exit(sessions.authenticate(sid, "")))
      expect(garbage).toBeInstanceOf(BadCredential)

      const other = yield* sessions.login()
      expect(failureOf(yield* Effect.exit(sessions.authenticate(sid, other.token)))).toBeInstanceOf(BadCredential)
      const unknown = failureOf(yield* Effect.exit(sessions.authenticate(`S-${"0".repeat(32)}`, token)))
      expect(unknown).toBeInstanceOf(UnknownSession)
      expect(unknown).toMatchObject({ sid: `S-${"0".repeat(32)}` })
    }))

  it.scoped("the stored record holds the token's SHA-256 digest, never the token", () =>
    Effect.gen(function*() {
      const { repo, sessions } = yield* setup()
      yield* TestClock.adjust("3 seconds")
      const { sid, token } = yield* sessions.login("desk")
      const record = live(yield* repo.get(sid))
      const expected: SessionRecord = {
        sid,
        tokenDigest: sha256(token),
        desc: "desk",
        joinedAt: 3000,
        lastAccess: 3000
      }
      expect(record).toEqual(expected)
      expect(JSON.stringify(yield* repo.list())).not.toContain(token)
    }))

  it.scoped("isKnownTokenOfAnySession accepts a live session's token only", () =>
    Effect.gen(function*() {
      const { sessions } = yield* setup()
      const a = yield* sessions.login()
      const b = yield* sessions.login()
      expect(yield* sessions.isKnownTokenOfAnySession(a.token)).toBe(true)
      expect(yield* sessions.isKnownTokenOfAnySession(b.token)).toBe(true)
      expect(yield* sessions.isKnownTokenOfAnySession(newSessionToken())).toBe(false)
      yield* sessions.teardown(a.sid, "deleted")
      expect(yield* sessions.isKnownTokenOfAnySession(a.token)).toBe(false)
    }))

  it.scoped("roles(sid) provides working role services over the session", () =>
    Effect.gen(function*() {
      const { sessions } = yield* setup()
      const { sid } = yield* sessions.login()
      const roles = live(yield* sessions.roles(sid))
      expect(Context.get(roles, SeniorBridge).sid).toBe(sid)
      expect(Context.get(roles, SpawnHook).sid).toBe(sid)
      expect(Context.get(roles, Operator).sid).toBe(sid)

      const { session } = live(yield* sessions.get(sid))
      const queue = yield* session.replaceOutbound
      const fiber = yield* Effect.fork(
        Effect.flatMap(SeniorBridge, (b) => b.ask({ taskId: StepId.make("ST-0000000000000001"), question: "go?" })).pipe(Effect.provide(roles))
      )
      const frame = (yield* Queue.take(queue)) as AskFrame
      expect(frame.req_id.startsWith(`${sid}-ask-`)).toBe(true)
      yield* session.resolve({ type: "answer", req_id: frame.req_id, value: "yes" })
      expect(yield* Fiber.join(fiber)).toBe("yes")
      expect(yield* sessions.roles("S-unknown")).toEqual(Option.none())
    }))

  it.scoped("list shows connected state and pending counts, oldest join first", () =>
    Effect.gen(function*() {
      const { sessions } = yield* setup()
      const a = yield* sessions.login("a")
      yield* TestClock.adjust("1 second")
      const b = yield* sessions.login()
      const sessionA = live(yield* sessions.get(a.sid)).session
      yield* sessionA.replaceOutbound
      const fiber = yield* Effect.fork(sessionA.request(askBody("q")))
      yield* waitForPending(sessionA, 1)
      expect(yield* sessions.list()).toEqual([
        { sid: a.sid, desc: "a", joinedAt: 0, lastAccess: 0, connected: true, pending: 1 },
        { sid: b.sid, joinedAt: 1000, lastAccess: 1000, connected: false, pending: 0 }
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("teardown deletes the record, unregisters, fails pending calls, and is idempotent", () =>
    Effect.gen(function*() {
      const { repo, sessions } = yield* setup()
      const { sid, token } = yield* sessions.login()
      const { session } = live(yield* sessions.get(sid))
      const queue = yield* session.replaceOutbound
      const fiber = yield* Effect.fork(session.request(askBody("q")))
      yield* waitForPending(session, 1)

      yield* sessions.teardown(sid, "deleted by its owner")
      expect(failureOf(yield* Fiber.await(fiber))).toBeInstanceOf(SessionTornDown)
      expect(yield* session.state).toBe("torn_down")
      expect(yield* Queue.isShutdown(queue)).toBe(true)
      expect(yield* repo.get(sid)).toEqual(Option.none())
      expect(yield* sessions.roles(sid)).toEqual(Option.none())
      expect(yield* sessions.get(sid)).toEqual(Option.none())
      expect(failureOf(yield* Effect.exit(sessions.authenticate(sid, token)))).toBeInstanceOf(UnknownSession)
      expect(yield* sessions.list()).toEqual([])

      yield* sessions.teardown(sid, "again")
      yield* sessions.teardown("S-never", "never existed")
    }))

  it.scoped("the stored record is deleted first; a failing delete leaves the session intact", () =>
    Effect.gen(function*() {
      const memory = yield* makeMemory
      let failDelete = true
      const seenAtDelete: Array<string> = []
      let observe: Effect.Effect<string> = Effect.succeed("none")
      const repo: SessionRepoShape = {
        ...memory,
        delete: (sid) =>
          Effect.gen(function*() {
            seenAtDelete.push(yield* observe)
            if (failDelete) return yield* Effect.fail(new SessionRepoError({ op: "delete", message: "disk full" }))
            yield* memory.delete(sid)
          })
      }
      const { sessions } = yield* setup({}, repo)
      const { sid, token } = yield* sessions.login()
      const { session } = live(yield* sessions.get(sid))
      observe = Effect.gen(function*() {
        const registered = Option.isSome(yield* sessions.roles(sid))
        return `${yield* session.state}/${registered ? "registered" : "unregistered"}`
      })
      const queue = yield* session.replaceOutbound
      const fiber = yield* Effect.fork(session.request(askBody("q")))
      yield* Queue.take(queue)

      const failed = failureOf(yield* Effect.exit(sessions.teardown(sid, "deleted")))
      expect(failed).toBeInstanceOf(SessionRepoError)
      // nothing changed
      expect(yield* session.state).toBe("connected")
      expect(fiber.unsafePoll()).toBeNull()
      expect(yield* session.pending).toHaveLength(1)
      expect(Option.isSome(yield* sessions.roles(sid))).toBe(true)
      expect((yield* sessions.authenticate(sid, token)).sid).toBe(sid)
      expect(Option.isSome(yield* repo.get(sid))).toBe(true)
      expect(yield* Queue.isShutdown(queue)).toBe(false)

      failDelete = false
      yield* sessions.teardown(sid, "deleted")
      expect(seenAtDelete).toEqual(["connected/registered", "connected/registered"])
      expect(failureOf(yield* Fiber.await(fiber))).toBeInstanceOf(SessionTornDown)
      expect(yield* sessions.get(sid)).toEqual(Option.none())
    }))

  describe("idle expiry (§7)", () => {
    const config: SessionsConfig = { idleHorizon: "1 hour" }

    it.scoped("a disconnected session idle past the horizon expires; at the horizon it does not", () =>
      Effect.gen(function*() {
        const { repo, sessions } = yield* setup(config)
        const { sid, token } = yield* sessions.login()
        yield* TestClock.adjust("1 hour")
        expect(yield* sessions.expireIfIdle(sid)).toBe(false)
        expect(Option.isSome(yield* sessions.get(sid))).toBe(true)
        yield* TestClock.adjust(1)
        expect(yield* sessions.expireIfIdle(sid)).toBe(true)
        expect(yield* sessions.get(sid)).toEqual(Option.none())
        expect(yield* repo.get(sid)).toEqual(Option.none())
        expect(failureOf(yield* Effect.exit(sessions.authenticate(sid, token)))).toBeInstanceOf(UnknownSession)
      }))

    it.scoped("the check happens before the access is recorded: a late touch does not revive it", () =>
      Effect.gen(function*() {
        const { sessions } = yield* setup(config)
        const { sid, token } = yield* sessions.login()
        yield* TestClock.adjust("2 hours")
        expect(yield* sessions.touch(sid)).toBe(false)
        expect(yield* sessions.get(sid)).toEqual(Option.none())
        expect(failureOf(yield* Effect.exit(sessions.authenticate(sid, token)))).toBeInstanceOf(UnknownSession)
      }))

    it.scoped("authenticate expires an idle session before checking the token", () =>
      Effect.gen(function*() {
        const { sessions } = yield* setup(config)
        const { sid, token } = yield* sessions.login()
        yield* TestClock.adjust("61 minutes")
        expect(failureOf(yield* Effect.exit(sessions.authenticate(sid, token)))).toBeInstanceOf(UnknownSession)
      }))

    it.scoped("touch moves the last access (memory and store)", () =>
      Effect.gen(function*() {
        const { repo, sessions } = yield* setup(config)
        const { sid } = yield* sessions.login()
        yield* TestClock.adjust("30 minutes")
        expect(yield* sessions.touch(sid)).toBe(true)
        expect(live(yield* sessions.get(sid)).lastAccess).toBe(30 * 60_000)
        expect(live(yield* repo.get(sid)).lastAccess).toBe(30 * 60_000)
        yield* TestClock.adjust("45 minutes") // 75 min since login, 45 since the touch
        expect(yield* sessions.expireIfIdle(sid)).toBe(false)
        expect(yield* sessions.touch("S-unknown")).toBe(false)
      }))

    it.scoped("an attached session never expires; once detached it can", () =>
      Effect.gen(function*() {
        const { sessions } = yield* setup(config)
        const { sid } = yield* sessions.login()
        const { session } = live(yield* sessions.get(sid))
        const queue = yield* session.replaceOutbound
        yield* TestClock.adjust("30 days")
        expect(yield* sessions.expireIfIdle(sid)).toBe(false)
        expect(yield* sessions.sweep).toBe(0)
        expect(yield* sessions.touch(sid)).toBe(true)
        yield* session.clearOutboundIf(queue)
        yield* TestClock.adjust("1 hour")
        expect(yield* sessions.expireIfIdle(sid)).toBe(false)
        yield* TestClock.adjust(1)
        expect(yield* sessions.sweep).toBe(1)
        expect(yield* sessions.get(sid)).toEqual(Option.none())
      }))

    it.scoped("sweep expires only the idle, disconnected sessions", () =>
      Effect.gen(function*() {
        const { sessions } = yield* setup(config)
        const idle = yield* sessions.login("idle")
        const attached = yield* sessions.login("attached")
        const busy = yield* sessions.login("busy")
        yield* live(yield* sessions.get(attached.sid)).session.replaceOutbound
        yield* TestClock.adjust("50 minutes")
        yield* sessions.touch(busy.sid)
        yield* TestClock.adjust("11 minutes")
        expect(yield* sessions.sweep).toBe(1)
        expect((yield* sessions.list()).map((s) => s.sid)).toEqual([attached.sid, busy.sid])
        expect(yield* sessions.get(idle.sid)).toEqual(Option.none())
      }))

    it.scoped("a failing delete during expiry keeps the session and reports no expiry", () =>
      Effect.gen(function*() {
        const memory = yield* makeMemory
        const repo: SessionRepoShape = {
          ...memory,
          delete: () => Effect.fail(new SessionRepoError({ op: "delete", message: "disk full" }))
        }
        const { sessions } = yield* setup(config, repo)
        const { sid } = yield* sessions.login()
        yield* TestClock.adjust("2 hours")
        expect(yield* sessions.expireIfIdle(sid)).toBe(false)
        expect(yield* live(yield* sessions.get(sid)).session.state).toBe("disconnected")
      }))
  })

  describe("lifetime", () => {
    it.effect("closing the registry's scope ends every session but keeps the stored records", () =>
      Effect.gen(function*() {
        const repo = yield* makeMemory
        const scope = yield* Scope.make()
        const sessions = yield* make().pipe(Effect.provideService(SessionRepo, repo), Scope.extend(scope))
        const { sid } = yield* sessions.login()
        const { session } = live(yield* sessions.get(sid))
        const fiber = yield* Effect.fork(session.request(askBody("q")))
        yield* waitForPending(session, 1)
        yield* Scope.close(scope, Exit.void)
        expect(failureOf(yield* Fiber.await(fiber))).toBeInstanceOf(SessionTornDown)
        expect(Option.isSome(yield* repo.get(sid))).toBe(true)
      }))

    it.scoped("stored sessions come back registered but disconnected; expired ones are dropped", () =>
      Effect.gen(function*() {
        const repo = yield* makeMemory
        const first = yield* Scope.make()
        const before = yield* make({ idleHorizon: "1 hour" }).pipe(
          Effect.provideService(SessionRepo, repo),
          Scope.extend(first)
        )
        const kept = yield* before.login("kept")
        const stale = yield* before.login("stale")
        yield* TestClock.adjust("40 minutes")
        yield* before.touch(kept.sid)
        yield* Scope.close(first, Exit.void)

        yield* TestClock.adjust("30 minutes") // stale: 70 min idle; kept: 30 min
        const { sessions } = yield* setup({ idleHorizon: "1 hour" }, repo)
        const restored = yield* sessions.authenticate(kept.sid, kept.token)
        expect(restored).toMatchObject({ sid: kept.sid, desc: "kept", joinedAt: 0, lastAccess: 40 * 60_000 })
        expect(yield* restored.session.state).toBe("disconnected")
        expect(Option.isSome(yield* sessions.roles(kept.sid))).toBe(true)
        expect(failureOf(yield* Effect.exit(sessions.authenticate(stale.sid, stale.token)))).toBeInstanceOf(
          UnknownSession
        )
        expect(yield* repo.get(stale.sid)).toEqual(Option.none())
        // and it works: a request parks until the operator reconnects
        const fiber = yield* Effect.fork(restored.session.request(askBody("after restart")))
        yield* waitForPending(restored.session, 1)
        const queue = yield* restored.session.replaceOutbound
        const [frame] = yield* drain(queue)
        yield* restored.session.resolve({ type: "answer", req_id: (frame as AskFrame).req_id, value: 1 })
        expect(yield* Fiber.join(fiber)).toMatchObject({ value: 1 })
      }))

    it.scoped("Sessions.layer provides the registry over SessionRepo.memory", () =>
      Effect.gen(function*() {
        const sessions = yield* Sessions
        const { sid, token } = yield* sessions.login()
        expect((yield* sessions.authenticate(sid, token)).sid).toBe(sid)
      }).pipe(Effect.provide(Sessions.layer().pipe(Layer.provide(SessionRepo.memory)))))
  })
})
