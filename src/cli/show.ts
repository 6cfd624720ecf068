/** `swarmgate show <run_id>`: one run with its steps. */
import { Args, Command as Cli } from "@effect/cli"
import { Effect } from "effect"
import { makeApiClient } from "../client/api.js"
import { command, jsonOption, printJson, serverOption, stdout, table, when } from "./common.js"

export const runIdArg = Args.text({ name: "run_id" }).pipe(Args.withDescription("the run's id (R-...), as `swarmgate runs` lists them"))

export const unknownRunHint = { unknown_run: "list runs with `swarmgate runs`" }

const brief = (value: unknown) => {
  if (value === undefined) return ""
  const text = typeof value === "string" ? value : JSON.stringify(value)
  return text.length > 60 ? text.slice(0, 59) + "…" : text
}

export const show = Cli.make("show", { runId: runIdArg, json: jsonOption, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const api = yield* makeApiClient(options.server)
    const run = yield* api.runs.get({ path: { id: options.runId } })
    if (options.json) return yield* printJson(run)
    const head = [
      `run       ${run.run_id}`,
      `task      ${run.task_id}`,
      `status    ${run.status}`,
      `created   ${when(run.created_at)}`,
      ...(run.finished_at === undefined ? [] : [`finished  ${when(run.finished_at)}`]),
      ...(run.error === undefined ? [] : [`error     ${run.error.message}`]),
      ...Object.entries(run.seats).map(([slot, s]) => `seat      ${slot}: ${s === null ? "empty" : `${s.sid} (generation ${s.generation})`}`)
    ]
    const steps = table(
      ["STEP", "AGENT", "ATTEMPT", "STATUS", "VALUE"],
      run.steps.map((s) => [s.step_id, s.ref, String(s.attempt), s.status, brief(s.error ?? s.value)])
    )
    yield* stdout(`${head.join("\n")}\n\n${steps}`)
  }).pipe((body) => command(options.server, body, unknownRunHint))).pipe(
    Cli.withDescription("show one run with its steps")
  )
