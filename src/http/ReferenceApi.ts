/**
 * The reference routes: the OpenAPI document, the blueprint JSON Schema and the browsable
 * reference page. `/docs`, the web console and the operator WebSocket are raw routes (HttpApi declares
 * neither), so `withRawRoutes` adds them to the generated document by hand.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { ApiErrors } from "./errors.js"

export const DOCS_PATH = "/docs"
export const OPENAPI_PATH = "/v1/openapi.json"
export const BLUEPRINT_SCHEMA_PATH = "/v1/schema/blueprint.json"

const JsonDocument = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export class ReferenceApi extends HttpApiGroup.make("reference")
  .add(
    HttpApiEndpoint.get("openapi", OPENAPI_PATH)
      .addSuccess(JsonDocument.annotations({ description: "an OpenAPI 3.1 document" }))
      .annotateContext(OpenApi.annotations({
        summary: "This API as an OpenAPI document",
        description: "Generated from the route declarations, so it always matches what the server answers."
      }))
  )
  .add(
    HttpApiEndpoint.get("blueprintSchema", BLUEPRINT_SCHEMA_PATH)
      .addSuccess(JsonDocument.annotations({ description: "a JSON Schema (draft-07)" }))
      .annotateContext(OpenApi.annotations({
        summary: "The JSON Schema of a blueprint",
        description: "Checks the shape of a blueprint document (fields, kinds, ops). References between agents, " +
          "seats and paths are checked when the blueprint is stored (PUT /v1/blueprints/{id}), which lists " +
          "every problem at once."
      }))
  )
  .addError(ApiErrors.InternalError)
{}

const html = { description: "an HTML page", content: { "text/html": { schema: { type: "string" } } } }

/** The raw routes in OpenAPI form (paths use `{name}` for parameters). */
const rawOperations: Record<string, Record<string, unknown>> = {
  "/": {
    get: {
      tags: ["reference"],
      operationId: "reference.console",
      summary: "The web console",
      description: "The browser console: overview, run pages and operator mode. Served from this install, loads " +
        "nothing from the network. 503 `console_not_built` when the install has no built console.",
      parameters: [],
      security: [],
      responses: { 200: html, 503: { description: "The console is not built (`console_not_built`)" } }
    }
  },
  "/web/{file}": {
    get: {
      tags: ["reference"],
      operationId: "reference.consoleAsset",
      summary: "A file of the web console",
      description: "`app.js`, `app.css` or `index.html`; any other name is 404.",
      parameters: [{ name: "file", in: "path", required: true, schema: { type: "string" } }],
      security: [],
      responses: { 200: { description: "The file" }, 404: { description: "No such console file" } }
    }
  },
  [DOCS_PATH]: {
    get: {
      tags: ["reference"],
      operationId: "reference.docs",
      summary: "Browsable API reference",
      description: "This document rendered as a page to read and try requests in; it loads nothing from the network.",
      parameters: [],
      security: [],
      responses: { 200: html }
    }
  },
  "/v1/operators/{sid}/ws": {
    get: {
      tags: ["operators"],
      operationId: "operators.socket",
      summary: "The operator WebSocket",
      description: "Upgrades to the operator session's WebSocket (see docs/operators.md for the frames). " +
        "Send `Authorization: Bearer <session token>` (never in the query string). " +
        "The credential is checked before the upgrade: 401 missing or wrong token, " +
        "404 unknown or expired session, 426 not an upgrade request.",
      parameters: [{ name: "sid", in: "path", required: true, schema: { type: "string" } }],
      security: [],
      responses: {
        101: { description: "Switching to the WebSocket protocol" },
        400: { description: "A malformed WebSocket handshake (`bad_upgrade`)" },
        401: { description: "Missing, malformed or wrong session token" },
        404: { description: "Unknown or expired session" },
        426: { description: "A plain GET: this route only upgrades (`upgrade_required`)" }
      }
    }
  }
}

const groupDescriptions: Record<string, string> = {
  health: "Is the server up, and what is it doing",
  operators: "Operator sessions: log in, list, inspect, tear down, and the WebSocket",
  blueprints: "Stored workflow documents, versioned",
  tasks: "Launching work: a blueprint and an input",
  runs: "Executions of tasks: follow, cancel, resume, take over a seat",
  worker: "The sub-agent's side of one step; auth is the step's worker handle or capability token",
  data: "Large outputs stored by sub-agents, passed on by id",
  reference: "Machine-readable reference of this API"
}

/** OpenAPI transform: adds the raw routes beside the HttpApi ones, and says what each group is for. */
export const withRawRoutes = (spec: Record<string, any>): Record<string, any> => ({
  ...spec,
  tags: (spec.tags as Array<{ name: string }>).map((tag) =>
    groupDescriptions[tag.name] === undefined ? tag : { ...tag, description: groupDescriptions[tag.name] }
  ),
  paths: { ...spec.paths, ...rawOperations }
})
