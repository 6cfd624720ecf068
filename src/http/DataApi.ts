/**
 * The data path (docs/http.md): large outputs stored by the sub-agent and fetched by id or
 * name. Emit takes the raw body (16 MiB) and keeps its Content-Type for the fetch.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { OutputName, OutputRef } from "../protocol/names.js"
import { AuthHeaders, DataAuth, WorkerAuth } from "./auth.js"
import { ApiErrors } from "./errors.js"

export const Emitted = Schema.Struct({
  out_id: Schema.String,
  name: Schema.String,
  bytes: Schema.Int,
  sha256: Schema.String
})

export class DataApi extends HttpApiGroup.make("data")
  .add(
    HttpApiEndpoint.post("emit", "/v1/data/emit")
      .annotateContext(OpenApi.annotations({
        summary: "Store a large output (sub-agent)",
        description: "The raw body (up to 16 MiB) is stored with its content type under `name` (1-128 characters of A-Z a-z 0-9 . _ -). Only the returned `out_id` needs to travel on. The worker credential may come as `?token=`."
      }))
      .setHeaders(AuthHeaders)
      // the worker credential may come as `?token=` instead of the header
      .setUrlParams(Schema.Struct({ name: OutputName, token: Schema.optionalWith(Schema.String, { exact: true }) }))
      .addSuccess(Emitted)
      .addError(ApiErrors.BadRequest)
      .addError(ApiErrors.Gone)
      .addError(ApiErrors.PayloadTooLarge)
      .middleware(WorkerAuth)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/data/:ref")
      .setPath(Schema.Struct({ ref: OutputRef }))
      .addError(ApiErrors.BadRequest)
      .setHeaders(AuthHeaders)
      // the stored body, with the content type it was emitted with
      .addSuccess(HttpApiSchema.Uint8Array())
      .annotateContext(OpenApi.annotations({
        summary: "Read a stored output",
        description: "`ref` is an `out_id` or a name (the latest output of that name). Needs a worker credential of the same run or an operator session token."
      }))
      .addError(ApiErrors.Forbidden)
      .addError(ApiErrors.NotFound)
      .middleware(DataAuth)
  )
  .addError(ApiErrors.Unauthorized)
  // superseded
  .addError(ApiErrors.Conflict)
  .addError(ApiErrors.InternalError)
{}
