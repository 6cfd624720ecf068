/** Stored blueprints (docs/http.md, Blueprints). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { ParseResult, Schema } from "effect"
import { BlueprintSummary } from "../protocol/records.js"
import { ApiErrors } from "./errors.js"
import { ApiAccess } from "./auth.js"

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
      .annotateContext(OpenApi.annotations({
        summary: "Store a blueprint (a new version)",
        description: "The body is a blueprint document (see GET /v1/schema/blueprint.json). Answers the version, counting from 1. A body that is not a JSON object is 400; a blueprint that breaks any rule is 422 `invalid_blueprint` with every problem and its JSON path in `details`."
      }))
      .setPath(IdPath)
      // validated by the engine, which reports every problem at once (400 / 422 with details)
      .setPayload(Schema.Unknown)
      .addSuccess(PutResult)
      .addError(ApiErrors.BadRequest)
      .addError(ApiErrors.Unprocessable)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/blueprints")
      .annotateContext(OpenApi.annotations({ summary: "List stored blueprints, latest version of each" }))
      .addSuccess(BlueprintList)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/blueprints/:id")
      .annotateContext(OpenApi.annotations({
        summary: "Read a stored blueprint",
        description: "The latest version, or `?version=N`."
      }))
      .setPath(IdPath)
      .setUrlParams(Schema.Struct({
        version: Schema.optionalWith(VersionParam.annotations({ description: "a version number; absent: the latest" }), {
          exact: true
        })
      }))
      .addSuccess(BlueprintVersion)
      .addError(ApiErrors.NotFound)
  )
  .add(
    HttpApiEndpoint.del("remove", "/v1/blueprints/:id")
      .annotateContext(OpenApi.annotations({
        summary: "Delete a blueprint, every version",
        description: "A later PUT of the same id starts again at version 1."
      }))
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ApiErrors.NotFound)
  )
  .addError(ApiErrors.InternalError)
  // beyond loopback these routes need the API token
  .middleware(ApiAccess)
{}
