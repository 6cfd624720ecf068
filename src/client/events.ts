/**
 * Following a run (`GET /v1/runs/:id/events`, server-sent events): past events first, then
 * live ones, ending after `run_finished`. The HttpApi declares the route as text, which
 * would wait for the whole stream; this reads it as it arrives.
 */
import * as Sse from "@effect/experimental/Sse"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Stream } from "effect"
import { normalizeServer } from "./api.js"

/** One run event: `type` plus the fields of that type (docs/http.md, run events). */
export interface RunEvent {
  readonly type: string
  readonly seq?: number
  readonly run_id?: string
  readonly step_id?: string
  readonly ref?: string
  readonly attempt?: number
  readonly status?: string
  readonly kind?: string
  readonly req_id?: string
  readonly sid?: string
  readonly message?: string
  readonly at?: string
  readonly [key: string]: unknown
}

export const followRun = (server: string, runId: string) =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.get(`${normalizeServer(server)}/v1/runs/${encodeURIComponent(runId)}/events`).pipe(
        HttpClientRequest.acceptJson,
        HttpClientRequest.setHeader("accept", "text/event-stream")
      )
    )
    if (response.status !== 200) {
      // the same envelope as every route; decode it through the declared client instead
      return yield* Effect.fail({ _tag: "EventsRefused" as const, status: response.status })
    }
    return response.stream.pipe(
      Stream.decodeText(),
      Stream.pipeThroughChannel(Sse.makeChannel()),
      Stream.map((event): RunEvent => {
        try {
          return JSON.parse(event.data) as RunEvent
        } catch {
          return { type: event.event }
        }
      })
    )
  }))
