/**
 * The typed HTTP client: derived from the server's own HttpApi declaration (`src/http/Api.ts`),
 * so a route, a body or an answer cannot drift between server and client.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Effect, Layer } from "effect"
import { Api } from "../http/Api.js"
import { type ApiError, isApiError } from "../http/errors.js"
import { ServerUnreachable, UnexpectedAnswer } from "./errors.js"

export const DEFAULT_SERVER = "http://127.0.0.1:7777"

/** The base URL without a trailing slash. */
export const normalizeServer = (url: string): string => url.replace(/\/+$/, "")

/** The client of every route; `token` is sent as `Authorization: Bearer` on each request. */
export const makeApiClient = (server: string, options: { readonly token?: string } = {}) =>
  HttpApiClient.make(Api, {
    baseUrl: normalizeServer(server),
    transformClient: (client) =>
      options.token === undefined
        ? client
        : HttpClient.mapRequest(client, HttpClientRequest.bearerToken(options.token))
  })

export type ApiClient = Effect.Effect.Success<ReturnType<typeof makeApiClient>>

/** The HTTP layer the client runs on (Node's fetch). */
export const HttpLive: Layer.Layer<HttpClient.HttpClient> = FetchHttpClient.layer

/** What the API client can fail with besides the declared API errors. */
export type TransportError = HttpClientError.HttpClientError | { readonly _tag: "ParseError" }

/**
 * Turns a failed call into something a person can act on: a declared API error stays as it
 * is (its message says what to do), a refused connection becomes `ServerUnreachable`,
 * anything else `UnexpectedAnswer`.
 */
export const explain = (server: string) => <E>(error: E): ApiError | ServerUnreachable | UnexpectedAnswer => {
  if (isApiError(error)) return error
  if (error instanceof ServerUnreachable || error instanceof UnexpectedAnswer) return error
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  if (tag === "RequestError" && (error as { reason?: string }).reason === "Transport") {
    return new ServerUnreachable({ server: normalizeServer(server) })
  }
  const message = typeof error === "object" && error !== null && "message" in error
    ? String((error as { message: unknown }).message)
    : String(error)
  return new UnexpectedAnswer({ server: normalizeServer(server), detail: message.split("\n")[0] ?? message })
}

/** Runs one API call with errors explained. */
export const call = <A, E, R>(server: string, effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, explain(server))
