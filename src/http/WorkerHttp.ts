import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { Worker } from "../services/Worker.js"
import { Api } from "./Api.js"
import { bearerToken } from "./auth.js"
import { engineError } from "./engineErrors.js"
import { rawBody, refuseDeclaredOversize } from "./rawBody.js"

export const WorkerLive = HttpApiBuilder.group(Api, "worker", (handlers) =>
  Effect.gen(function*() {
    const worker = yield* Worker
    return handlers
      .handle("prompt", ({ headers, urlParams }) =>
        Effect.flatMap(bearerToken(headers.authorization), (credential) =>
          Effect.mapError(worker.prompt(credential, urlParams.task_id), engineError)))
      .handle("submit", ({ headers, request, urlParams }) =>
        Effect.gen(function*() {
          yield* refuseDeclaredOversize(request)
          const credential = yield* bearerToken(headers.authorization)
          const body = yield* rawBody(request)
          // ok=false is verdict=blocked whatever verdict says
          const verdict = urlParams.ok === false ? "blocked" : urlParams.verdict ?? "pass"
          return yield* Effect.mapError(worker.submit(credential, body, verdict), engineError)
        }))
      .handle("result", ({ headers, payload }) =>
        Effect.flatMap(bearerToken(headers.authorization), (credential) =>
          Effect.mapError(worker.result(credential, payload), engineError)))
      .handle("artifact", ({ headers, request, urlParams }) =>
        Effect.gen(function*() {
          yield* refuseDeclaredOversize(request)
          const credential = yield* bearerToken(headers.authorization)
          const body = yield* rawBody(request)
          return yield* Effect.mapError(worker.artifact(credential, urlParams.name, body), engineError)
        }))
      .handle("ask", ({ headers, payload }) =>
        Effect.flatMap(bearerToken(headers.authorization), (credential) =>
          Effect.mapError(worker.ask(credential, payload.question), engineError)))
  }))
