/**
 * Stored blueprints (`/v1/blueprints`): validated on the way in, versioned from 1.
 */
import { Clock, Context, Effect, Either, Layer, Option } from "effect"
import type { Blueprint } from "../protocol/blueprint.js"
import { BlueprintNotFound, InvalidBlueprint } from "./EngineErrors.js"
import { formatProblems, validateBlueprint } from "./flow/validate.js"
import { type BlueprintRecord, BlueprintRepo, type BlueprintSummary } from "./repos/BlueprintRepo.js"

export interface BlueprintsShape {
  /** `PUT /v1/blueprints/:id`: the URL's id wins; a different `id` in the body is a problem. */
  readonly put: (id: string, json: unknown) => Effect.Effect<{ readonly id: string; readonly version: number }, InvalidBlueprint>
  readonly get: (id: string, version?: number) => Effect.Effect<BlueprintRecord, BlueprintNotFound>
  readonly list: Effect.Effect<ReadonlyArray<BlueprintSummary>>
  readonly remove: (id: string) => Effect.Effect<void, BlueprintNotFound>
}

export class Blueprints extends Context.Tag("swarmgate/Blueprints")<Blueprints, BlueprintsShape>() {
  static readonly layer: Layer.Layer<Blueprints, never, BlueprintRepo> = Layer.effect(
    Blueprints,
    Effect.gen(function*() {
      const repo = yield* BlueprintRepo
      const notFound = (id: string, version?: number) =>
        new BlueprintNotFound({
          id,
          ...(version !== undefined ? { version } : {}),
          message: version === undefined ? `no blueprint ${id}` : `no version ${version} of blueprint ${id}`
        })
      return {
        put: (id, json) =>
          Effect.gen(function*() {
            const checked = validateBlueprint(json)
            const problems = Either.isLeft(checked) ? [...checked.left] : []
            const bodyId = typeof json === "object" && json !== null ? (json as { id?: unknown }).id : undefined
            if (typeof bodyId === "string" && bodyId !== id) {
              problems.push({ path: "$.id", message: `the body's id "${bodyId}" differs from the URL's "${id}": make them equal or drop it` })
            }
            if (problems.length > 0 || Either.isLeft(checked)) {
              return yield* new InvalidBlueprint({ problems, message: formatProblems(problems) })
            }
            const blueprint: Blueprint = { ...checked.right, id }
            const at = new Date(yield* Clock.currentTimeMillis).toISOString()
            const rec = yield* repo.put(id, blueprint, at)
            return { id, version: rec.version }
          }),
        get: (id, version) =>
          Effect.flatMap(repo.get(id, version), Option.match({
            onNone: () => Effect.fail(notFound(id, version)),
            onSome: Effect.succeed
          })),
        list: repo.list,
        remove: (id) => Effect.flatMap(repo.remove(id), (found) => found ? Effect.void : Effect.fail(notFound(id)))
      }
    })
  )
}
