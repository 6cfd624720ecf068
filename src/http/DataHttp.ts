import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { isSessionToken } from "../protocol/ids.js"
import { Sessions } from "../services/Sessions.js"
import { type DataAccess, Worker } from "../services/Worker.js"
import { Api } from "./Api.js"
import { bearerToken } from "./auth.js"
import { engineError } from "./engineErrors.js"
import { Unauthorized } from "./errors.js"
import { rawBody, refuseDeclaredOversize } from "./rawBody.js"

export const DataLive = HttpApiBuilder.group(Api, "data", (handlers) =>
  Effect.gen(function*() {
    const worker = yield* Worker
    const sessions = yield* Sessions

    // a session token is 32 hex; worker handles (`wh-…`) and capability tokens (base64url) never are
    const accessOf = (token: string): Effect.Effect<DataAccess, Unauthorized> =>
      isSessionToken(token)
        ? Effect.flatMap(sessions.isKnownTokenOfAnySession(token), (known) =>
          known
            ? Effect.succeed({ _tag: "operator" } as const)
            : Effect.fail(
              new Unauthorized({
                code: "bad_credential",
                message: "the token is neither a live operator session's token nor a worker credential; send " +
                  "a worker handle of this run or an operator session token"
              })
            ))
        : Effect.succeed({ _tag: "worker", credential: token } as const)

    return handlers
      .handle("emit", ({ headers, request, urlParams }) =>
        Effect.gen(function*() {
          yield* refuseDeclaredOversize(request)
          const credential = headers.authorization === undefined && urlParams.token !== undefined
            ? urlParams.token
            : yield* bearerToken(headers.authorization)
          const contentType = request.headers["content-type"]?.trim()
          const body = yield* rawBody(request)
          return yield* Effect.mapError(
            worker.emit(credential, urlParams.name, body, contentType === "" ? undefined : contentType),
            engineError
          )
        }))
      .handle("get", ({ headers, path }) =>
        Effect.gen(function*() {
          const token = yield* bearerToken(headers.authorization)
          const access = yield* accessOf(token)
          const data = yield* Effect.mapError(worker.getData(access, path.ref), engineError)
          return HttpServerResponse.uint8Array(data.body, {
            contentType: data.content_type,
            headers: { "x-out-id": data.out_id, "x-output-name": data.name }
          })
        }))
  }))
