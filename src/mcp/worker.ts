/**
 * The sub-agent's two verbs over HTTP: fetch the prompt, submit the raw result (or stage a
 * named part). The raw-body routes are declared without a payload, so the body goes on
 * through a request-mapping client, as `swarmgate worker` does.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { call, makeApiClient } from "../client/api.js"
import { submitRaw } from "../cli/submit.js"
import { Api } from "../http/Api.js"
import { fromCall } from "./errors.js"
import type { Input } from "./inputs.js"

const bearer = (handle: string) => ({ authorization: `Bearer ${handle}` })

export const fetchPrompt = (server: string, input: Input<"worker_fetch">) =>
  makeApiClient(server).pipe(
    Effect.flatMap((api) => api.worker.prompt({ headers: bearer(input.worker_handle), urlParams: {} })),
    (effect) => call(server, effect),
    Effect.mapError(fromCall)
  )

const stagePart = (server: string, handle: string, name: string, body: string) =>
  Effect.flatMap(HttpClient.HttpClient, (httpClient) =>
    HttpApiClient.endpoint(Api, {
      group: "worker",
      endpoint: "artifact",
      httpClient: HttpClient.mapRequest(httpClient, HttpClientRequest.bodyText(body, "text/plain; charset=utf-8")),
      baseUrl: server
    })).pipe(Effect.flatMap((artifact) => artifact({ headers: bearer(handle), urlParams: { name } })))

export const submit = (server: string, input: Input<"worker_submit">) =>
  (input.name === undefined
    ? Effect.map(
      submitRaw(server, input.worker_handle, input.body, input.verdict ?? "pass"),
      (r) => ({ submitted: true as const, task_id: r.task_id, bytes: r.bytes })
    )
    : Effect.map(
      stagePart(server, input.worker_handle, input.name, input.body),
      (r) => ({ submitted: true as const, part: r.name, task_id: r.task_id, bytes: r.bytes })
    )).pipe((effect) => call(server, effect), Effect.mapError(fromCall))
