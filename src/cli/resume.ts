/** `swarmgate resume <run_id>`. */
import { Command as Cli } from "@effect/cli"
import { Effect } from "effect"
import { makeApiClient } from "../client/api.js"
import { command, jsonOption, printJson, serverOption, stdout } from "./common.js"
import { runIdArg, unknownRunHint } from "./show.js"

export const resume = Cli.make("resume", { runId: runIdArg, json: jsonOption, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const api = yield* makeApiClient(options.server)
    const result = yield* api.runs.resume({ path: { id: options.runId } })
    yield* options.json ? printJson(result) : stdout(`run ${result.run_id} ${result.status}`)
  }).pipe((body) => command(options.server, body, unknownRunHint))).pipe(
    Cli.withDescription("resume an interrupted run; steps that passed are not run again")
  )
