/** Stored blueprints (http-api.md, Blueprints). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { ParseResult, Schema } from "effect"
import { BlueprintSummary } from "../protocol/records.js"
import { ApiErrors } from "./errors.js"
import { JsonBody } from "./limits.js"

export { BlueprintSummary }

export const BlueprintList = Schema.Struct({ blueprints: Schema.Array(BlueprintSummary) })

export const PutResult = Schema.Struct({ id: Schema.String, version: Schema.Int })

/** One stored version: its metadata and the document as stored (with its id). */
export const BlueprintVersion = Schema.Struct({
  id: Schema.String,
  version: Schema.Int,
  updated_at: Schema.String,
  blueprint: Schema.Unknown
})

/** `?version=N`, N a positive integer; an empty value means the latest. */
export const VersionParam = Schema.transformOrFail(Schema.String, Schema.UndefinedOr(Schema.Int), {
  strict: true,
  decode: (raw, _, ast) => {
    if (raw.trim() === "") return ParseResult.succeed(undefined)
    const n = Number(raw)
    return Number.isSafeInteger(n) && n >= 1 && /^\s*\d+\s*$/.test(raw)
      ? ParseResult.succeed(n)
      : ParseResult.fail(
        new ParseResult.Type(ast, raw, `must be a version number (1, 2, ...), got ${JSON.stringify(raw)}`)
      )
  },
  encode: (n) => ParseResult.succeed(n === undefined ? "" : String(n))
})

const IdPath = Schema.Struct({ id: Schema.String })

export class BlueprintsApi extends HttpApiGroup.make("blueprints")
  .add(
    HttpApiEndpoint.put("put", "/v1/blueprints/:id")
      .setPath(IdPath)
      // validated by the engine, which reports every problem at once (400 / 422 with details)
      .setPayload(Schema.Unknown)
      .addSuccess(PutResult)
      .addError(ApiErrors.BadRequest)
      .addError(ApiErrors.Unprocessable)
  )
  .add(HttpApiEndpoint.get("list", "/v1/blueprints").addSuccess(BlueprintList))
  .add(
    HttpApiEndpoint.get("get", "/v1/blueprints/:id")
      .setPath(IdPath)
      .setUrlParams(Schema.Struct({ version: Schema.optionalWith(VersionParam, { exact: true }) }))
      .addSuccess(BlueprintVersion)
      .addError(ApiErrors.NotFound)
  )
  .add(
    HttpApiEndpoint.del("remove", "/v1/blueprints/:id")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ApiErrors.NotFound)
  )
  .addError(ApiErrors.InternalError)
  .middleware(JsonBody)
{}
