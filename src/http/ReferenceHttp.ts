/**
 * `GET /v1/openapi.json`, `GET /v1/schema/blueprint.json` and the `/docs` page. Each is
 * computed once. The page is the platform's Scalar reference with its script inlined
 * (no CDN) and Scalar's web fonts off, so it works without network access.
 */
import { HttpApiBuilder, HttpApiScalar, OpenApi } from "@effect/platform"
import { Effect, JSONSchema } from "effect"
import { BlueprintSchema } from "../protocol/blueprint.js"
import { Api } from "./Api.js"
import { DOCS_PATH } from "./ReferenceApi.js"

export const openApiDocument = (): OpenApi.OpenAPISpec => OpenApi.fromApi(Api)

/**
 * Effect marks every "any value" field `{"$id": "/schemas/unknown"}`; several equal `$id`s
 * in one document make validators such as ajv refuse it, so they are dropped.
 */
const withoutBuiltinIds = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(withoutBuiltinIds)
  if (typeof node !== "object" || node === null) return node
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === "$id" && typeof value === "string" && value.startsWith("/schemas/")))
      .map(([key, value]) => [key, withoutBuiltinIds(value)])
  )
}

export const blueprintJsonSchema = (): Record<string, unknown> =>
  withoutBuiltinIds(JSONSchema.make(BlueprintSchema)) as Record<string, unknown>

export const ReferenceLive = HttpApiBuilder.group(Api, "reference", (handlers) =>
  Effect.sync(() => {
    const openapi = openApiDocument() as unknown as Record<string, unknown>
    const blueprint = blueprintJsonSchema()
    return handlers
      .handle("openapi", () => Effect.succeed(openapi))
      .handle("blueprintSchema", () => Effect.succeed(blueprint))
  }))

export const DocsPageLive = HttpApiScalar.layerHttpLayerRouter({
  api: Api,
  path: DOCS_PATH,
  scalar: { withDefaultFonts: false }
})
