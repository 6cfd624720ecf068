/**
 * The data path. `WorkerAuth` (emit) and `DataAuth` (get) have checked the credential
 * before a handler runs; names are validated by the route schemas (400).
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Worker } from "../services/Worker.js"
import { Api } from "./Api.js"
import { DataReader, WorkerStep } from "./auth.js"
import { engineError } from "./engineErrors.js"
import { rawBody, refuseDeclaredOversize } from "./rawBody.js"

/** A content type that is safe to send back as a header; anything else is served as bytes. */
const servableContentType = (value: string): string =>
  value.length <= 200 && /^[\x21-\x7e][\x20-\x7e]*$/.test(value) ? value : "application/octet-stream"

export const DataLive = HttpApiBuilder.group(Api, "data", (handlers) =>
  Effect.gen(function*() {
    const worker = yield* Worker
    return handlers
      .handle("emit", ({ request, urlParams }) =>
        Effect.gen(function*() {
          const step = yield* WorkerStep
          yield* refuseDeclaredOversize(request)
          const contentType = request.headers["content-type"]?.trim()
          const body = yield* rawBody(request)
          return yield* Effect.mapError(
            worker.emit(step, urlParams.name, body, contentType === "" ? undefined : contentType),
            engineError
          )
        }))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          const access = yield* DataReader
          const data = yield* Effect.mapError(worker.getData(access, path.ref), engineError)
          return HttpServerResponse.uint8Array(data.body, {
            contentType: servableContentType(data.content_type),
            headers: {
              "x-out-id": data.out_id,
              "x-output-name": data.name,
              // a stored body is whatever a sub-agent sent: never let a browser guess it is HTML
              "x-content-type-options": "nosniff"
            }
          })
        }))
  }))
