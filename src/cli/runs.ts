/** `swarmgate runs [--status S]`: the newest runs first. */
import { Command as Cli, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { makeApiClient } from "../client/api.js"
import { runStatuses } from "../http/RunsApi.js"
import { command, jsonOption, printJson, serverOption, stdout, table, when } from "./common.js"

const status = Options.choice("status", runStatuses).pipe(
  Options.withDescription("only runs with this status (default: any)"),
  Options.optional
)
const limit = Options.integer("limit").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("at most this many runs, 1 to 1000 (default: 100)"),
  Options.optional
)

export const runs = Cli.make("runs", { status, limit, json: jsonOption, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const api = yield* makeApiClient(options.server)
    const list = yield* api.runs.list({
      urlParams: {
        ...(Option.isSome(options.status) ? { status: options.status.value } : {}),
        ...(Option.isSome(options.limit) ? { limit: options.limit.value } : {})
      }
    })
    if (options.json) return yield* printJson(list)
    yield* stdout(table(
      ["RUN", "STATUS", "TASK", "CREATED", "FINISHED"],
      list.runs.map((r) => [r.run_id, r.status, r.task_id, when(r.created_at), when(r.finished_at)])
    ))
  }).pipe((body) => command(options.server, body))).pipe(Cli.withDescription("list runs, newest first"))
