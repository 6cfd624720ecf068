/**
 * The worker's raw-body routes. The HttpApi declares them without a payload (the body is
 * read raw), so the derived endpoint client gets the body from a request-mapping HTTP client; the
 * route itself still comes from the declaration.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { normalizeServer } from "../client/api.js"
import { Api } from "../http/Api.js"
import type { Verdict } from "../http/WorkerApi.js"

export const submitRaw = (server: string, handle: string, body: string, verdict: Verdict) =>
  Effect.flatMap(HttpClient.HttpClient, (httpClient) =>
    HttpApiClient.endpoint(Api, {
      group: "worker",
      endpoint: "submit",
      // `endpoint` ignores `transformClient`: the body goes on through the client itself
      httpClient: HttpClient.mapRequest(httpClient, HttpClientRequest.bodyText(body, "text/plain; charset=utf-8")),
      baseUrl: normalizeServer(server)
    })).pipe(
      Effect.flatMap((submit) => submit({ headers: { authorization: `Bearer ${handle}` }, urlParams: { verdict } }))
    )
