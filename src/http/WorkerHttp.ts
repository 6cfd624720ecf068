/**
 * The sub-agent's routes. `WorkerAuth` has verified the credential before any handler
 * runs (and before a raw body is read); the handlers pass the proven step on.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { isTooDeep, tooDeepMessage } from "../protocol/json.js"
import { Worker } from "../services/Worker.js"
import { Api } from "./Api.js"
import { WorkerStep } from "./auth.js"
import { engineError } from "./engineErrors.js"
import { BadRequest } from "./errors.js"
import { rawBody, refuseDeclaredOversize } from "./rawBody.js"
import { submitVerdict } from "./WorkerApi.js"

const utf8 = new TextDecoder()

/**
 * A raw result that reads as JSON (an object or array, or one in a leading code fence) must
 * not nest deeper than JSON bodies may (400 `too_deep`); plain text is never refused.
 */
export const refuseDeepResult = (body: Uint8Array) => {
  const text = utf8.decode(body)
  const start = text.trimStart()
  const jsonLike = start.startsWith("{") || start.startsWith("[") || start.startsWith("```")
  return jsonLike && isTooDeep(text)
    ? Effect.fail(new BadRequest({ code: "too_deep", message: tooDeepMessage("the body") }))
    : Effect.void
}

export const WorkerLive = HttpApiBuilder.group(Api, "worker", (handlers) =>
  Effect.gen(function*() {
    const worker = yield* Worker
    return handlers
      .handle("prompt", ({ urlParams }) =>
        Effect.flatMap(WorkerStep, (step) => Effect.mapError(worker.prompt(step, urlParams.task_id), engineError)))
      .handle("submit", ({ request, urlParams }) =>
        Effect.gen(function*() {
          const step = yield* WorkerStep
          yield* refuseDeclaredOversize(request)
          const body = yield* rawBody(request)
          yield* refuseDeepResult(body)
          return yield* Effect.mapError(worker.submit(step, body, submitVerdict(urlParams)), engineError)
        }))
      .handle("result", ({ payload }) =>
        Effect.flatMap(WorkerStep, (step) => Effect.mapError(worker.result(step, payload), engineError)))
      .handle("artifact", ({ request, urlParams }) =>
        Effect.gen(function*() {
          const step = yield* WorkerStep
          yield* refuseDeclaredOversize(request)
          const body = yield* rawBody(request)
          yield* refuseDeepResult(body)
          return yield* Effect.mapError(worker.artifact(step, urlParams.name, body), engineError)
        }))
      .handle("ask", ({ payload }) =>
        Effect.flatMap(WorkerStep, (step) => Effect.mapError(worker.ask(step, payload.question), engineError)))
  }))
