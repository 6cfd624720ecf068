import { HttpApiBuilder } from "@effect/platform"
import { Clock, Effect, Option } from "effect"
import type { SessionRepoError } from "../services/repos/SessionRepo.js"
import { type BadCredential, Sessions, type UnknownSession } from "../services/Sessions.js"
import { Api } from "./Api.js"
import { AuthedSession } from "./auth.js"
import { InternalError, NotFound, Unauthorized } from "./errors.js"

export const iso = (ms: number): string => new Date(ms).toISOString()

/** Sessions' credential failures as API errors: unknown sid 404, wrong token 401. */
export const credentialError = (e: UnknownSession | BadCredential): NotFound | Unauthorized =>
  e._tag === "UnknownSession"
    ? new NotFound({ code: "unknown_session", message: e.message })
    : new Unauthorized({ code: "bad_credential", message: e.message })

export const storageError = (e: SessionRepoError): InternalError =>
  new InternalError({ code: "storage_error", message: `session storage failed (${e.op}); try again later` })

export const OperatorsLive = HttpApiBuilder.group(Api, "operators", (handlers) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions

    const gone = (sid: string) =>
      new NotFound({ code: "unknown_session", message: `no live operator session ${sid}; log in with POST /v1/operators` })

    return handlers
      .handle("login", ({ payload }) => {
        const desc = payload?.desc
        return sessions.login(desc === undefined || desc === "" ? undefined : desc).pipe(
          Effect.mapError(storageError)
        )
      })
      // AnySessionAuth has checked the token
      .handle("list", () =>
        Effect.gen(function*() {
          // idle sessions past the horizon go before anyone sees them listed (docs/operators.md, Liveness and idle expiry)
          yield* sessions.sweep
          const all = yield* sessions.list()
          return {
            operators: all.map((s) => ({
              sid: s.sid,
              desc: s.desc ?? null,
              connected: s.connected,
              joined_at: iso(s.joinedAt),
              last_access: iso(s.lastAccess),
              pending: s.pending
            })),
            total: all.length
          }
        }))
      // SessionAuth has proven the token is this sid's
      .handle("info", ({ path }) =>
        Effect.gen(function*() {
          yield* AuthedSession
          yield* sessions.touch(path.sid)
          const live = yield* sessions.get(path.sid)
          if (Option.isNone(live)) return yield* gone(path.sid)
          const { session } = live.value
          const now = yield* Clock.currentTimeMillis
          const pending = yield* session.pending
          return {
            sid: live.value.sid,
            desc: live.value.desc ?? null,
            connected: (yield* session.state) === "connected",
            joined_at: iso(live.value.joinedAt),
            last_access: iso(live.value.lastAccess),
            pending: pending.map((p) => ({
              req_id: p.reqId,
              type: p.kind,
              task_id: p.taskId,
              ...(p.runId === undefined ? {} : { run_id: p.runId }),
              age_ms: Math.max(0, now - p.createdAt)
            }))
          }
        }))
      .handle("logout", ({ path }) =>
        Effect.gen(function*() {
          yield* AuthedSession
          yield* sessions.teardown(path.sid, "deleted with DELETE /v1/operators/:sid").pipe(
            Effect.mapError(storageError)
          )
        }))
  }))
