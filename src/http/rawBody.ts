/**
 * Raw request bodies (worker submit / artifact, data emit). The body limit is on the
 * request already (limits.ts); a declared Content-Length over it is refused before the
 * credential is even looked at, so an oversized upload costs nothing.
 */
import { HttpServerError, type HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { ServerConfig } from "../layers/ServerConfig.js"
import { BodyTooLarge, bodyLimitFor, declaredLength } from "./limits.js"

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

/** 413 (through the error middleware) when the declared length is over the route's limit. */
export const refuseDeclaredOversize = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.flatMap(ServerConfig, (config) => {
    const limit = bodyLimitFor(pathOf(request.url), config.limits)
    const declared = declaredLength(request.headers)
    return declared !== undefined && declared > limit
      ? Effect.die(
        new HttpServerError.RequestError({ request, reason: "Decode", cause: new BodyTooLarge({ limit, declared }) })
      )
      : Effect.void
  })

/** The whole body as bytes; over the limit or unreadable becomes 413 / 400 in the error middleware. */
export const rawBody = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<Uint8Array> =>
  Effect.orDie(Effect.map(request.arrayBuffer, (buffer) => new Uint8Array(buffer)))
