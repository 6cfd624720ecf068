import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Blueprints } from "../services/Blueprints.js"
import { Api } from "./Api.js"
import { engineError } from "./engineErrors.js"
import { BadRequest } from "./errors.js"

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

export const BlueprintsLive = HttpApiBuilder.group(Api, "blueprints", (handlers) =>
  Effect.gen(function*() {
    const blueprints = yield* Blueprints
    return handlers
      .handle("put", ({ path, payload }) =>
        // not even an object: a request problem (400); an object that breaks the rules: 422
        isObject(payload)
          ? Effect.mapError(blueprints.put(path.id, payload), engineError)
          : Effect.fail(
            new BadRequest({
              code: "invalid_request",
              message: "invalid request: the body must be a blueprint, a JSON object with `agents` and `flow` " +
                "(see docs/blueprints.md, or GET /v1/schema/blueprint.json)",
              details: [{ path: "$", message: "must be a JSON object" }]
            })
          ))
      .handle("list", () => Effect.map(blueprints.list, (all) => ({ blueprints: all })))
      .handle("get", ({ path, urlParams }) =>
        blueprints.get(path.id, urlParams.version).pipe(
          Effect.map((record) => ({
            id: record.id,
            version: record.version,
            updated_at: record.updated_at,
            blueprint: record.blueprint
          })),
          Effect.mapError(engineError)
        ))
      .handle("remove", ({ path }) => Effect.mapError(blueprints.remove(path.id), engineError))
  }))
