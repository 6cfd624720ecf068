import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Schedule, Stream } from "effect"
import type { RunEvent } from "../services/repos/EventRepo.js"
import { Runs } from "../services/Runs.js"
import { Sessions } from "../services/Sessions.js"
import { Api } from "./Api.js"
import { actAs } from "./auth.js"
import { engineError } from "./engineErrors.js"
import { LIMIT_DEFAULT } from "./RunsApi.js"

const encoder = new TextEncoder()

/** One server-sent event per run event; `id` is the event's seq, so Last-Event-ID resumes after it. */
export const sseEvent = (e: RunEvent): Uint8Array =>
  encoder.encode(`event: ${e.type}\nid: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`)

/** A comment line now and then keeps idle proxies and clients from dropping a quiet stream. */
export const SSE_KEEPALIVE_EVERY = "15 seconds"
const keepalive = Stream.fromSchedule(Schedule.spaced(SSE_KEEPALIVE_EVERY)).pipe(
  Stream.map(() => encoder.encode(": keepalive\n\n"))
)

/** `Last-Event-ID` (a seq); anything else replays from the start. */
const lastSeq = (header: string | undefined): number => {
  const n = header === undefined ? NaN : Number(header.trim())
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}

export const RunsLive = HttpApiBuilder.group(Api, "runs", (handlers) =>
  Effect.gen(function*() {
    const runs = yield* Runs
    const sessions = yield* Sessions
    return handlers
      .handle("list", ({ urlParams }) =>
        Effect.map(
          runs.list({
            limit: urlParams.limit ?? LIMIT_DEFAULT,
            ...(urlParams.status !== undefined ? { status: urlParams.status } : {})
          }),
          (list) => ({ runs: list })
        ))
      .handle("get", ({ path }) => Effect.mapError(runs.get(path.id), engineError))
      .handle("events", ({ headers, path }) =>
        Effect.gen(function*() {
          const events = yield* Effect.mapError(runs.events(path.id), engineError)
          const after = lastSeq(headers["last-event-id"])
          const body = events.pipe(
            Stream.filter((e) => e.seq > after),
            Stream.map(sseEvent),
            // the event stream decides when the response ends (after run_finished)
            Stream.merge(keepalive, { haltStrategy: "left" })
          )
          return HttpServerResponse.stream(body, {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
          })
        }))
      .handle("cancel", ({ path }) =>
        Effect.mapError(runs.cancel(path.id), engineError).pipe(
          Effect.as({ run_id: path.id, status: "cancelled" as const })
        ))
      .handle("resume", ({ path }) =>
        Effect.mapError(runs.resume(path.id), engineError).pipe(
          Effect.as({ run_id: path.id, status: "running" as const })
        ))
      .handle("acquire", ({ path, payload }) =>
        Effect.gen(function*() {
          // an act of that session: its own token (unknown sid 404, no credential 401, another's 403)
          yield* actAs(payload.sid)
          yield* sessions.touch(payload.sid)
          return yield* Effect.mapError(runs.acquire(path.id, payload.sid, payload.slot), engineError)
        }))
  }))
