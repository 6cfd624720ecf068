/**
 * The data path (http-api.md): large outputs stored by the sub-agent and fetched by id or
 * name. Emit takes the raw body (16 MiB) and keeps its Content-Type for the fetch.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { AuthHeaders } from "./auth.js"
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
      .setHeaders(AuthHeaders)
      // the worker credential may come as `?token=` instead of the header
      .setUrlParams(Schema.Struct({ name: Schema.String, token: Schema.optionalWith(Schema.String, { exact: true }) }))
      .addSuccess(Emitted)
      .addError(ApiErrors.BadRequest)
      .addError(ApiErrors.Gone)
      .addError(ApiErrors.PayloadTooLarge)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/data/:ref")
      .setPath(Schema.Struct({ ref: Schema.String }))
      .setHeaders(AuthHeaders)
      // the stored body, with the content type it was emitted with
      .addSuccess(HttpApiSchema.Uint8Array())
      .addError(ApiErrors.Forbidden)
      .addError(ApiErrors.NotFound)
  )
  .addError(ApiErrors.Unauthorized)
  // superseded
  .addError(ApiErrors.Conflict)
  .addError(ApiErrors.InternalError)
{}
