import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Runs } from "../services/Runs.js"
import { Api } from "./Api.js"
import { actAs } from "./auth.js"
import { engineError } from "./engineErrors.js"

/** `wait: true` answers 504 wait_timeout after this long unless the body says `wait_ms`. */
const DEFAULT_WAIT_MS = 300_000

export const TasksLive = HttpApiBuilder.group(Api, "tasks", (handlers) =>
  Effect.gen(function*() {
    const runs = yield* Runs
    return handlers
      .handle("launch", ({ payload }) =>
        Effect.gen(function*() {
          // seating a session is an act of that session: its token, before anything else
          if (payload.operator_sid !== undefined) yield* actAs(payload.operator_sid)
          return yield* Effect.gen(function*() {
            // the blueprint is validated (422) and the sid checked (404) before anything is created
            const launched = yield* runs.launch({
              blueprint: payload.blueprint,
              ...(payload.input !== undefined ? { input: payload.input } : {}),
              ...(payload.operator_sid !== undefined ? { operator_sid: payload.operator_sid } : {}),
              ...(payload.wait !== undefined ? { wait: payload.wait } : {})
            })
            // the run lives in the engine's scope: a caller that goes away does not stop it
            return payload.wait === true
              ? yield* runs.awaitEnd(launched.run_id, payload.wait_ms ?? DEFAULT_WAIT_MS)
              : launched
          }).pipe(Effect.mapError(engineError))
        }))
      .handle("list", () => Effect.map(runs.listTasks, (tasks) => ({ tasks })))
      .handle("get", ({ path }) => Effect.mapError(runs.getTask(path.id), engineError))
      .handle("run", ({ path, payload }) =>
        Effect.gen(function*() {
          if (payload?.operator_sid !== undefined) yield* actAs(payload.operator_sid)
          return yield* Effect.mapError(
            runs.runTask(path.id, {
              ...(payload?.input !== undefined ? { input: payload.input } : {}),
              ...(payload?.operator_sid !== undefined ? { operator_sid: payload.operator_sid } : {})
            }),
            engineError
          )
        }))
  }))
