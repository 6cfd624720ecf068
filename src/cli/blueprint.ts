/** `swarmgate blueprint put|validate|list|show` (docs/commands.md). */
import { Args, Command as Cli, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import { basename } from "node:path"
import { makeApiClient } from "../client/api.js"
import { validateBlueprint } from "../services/flow/validate.js"
import { command, exitWith, jsonOption, printJson, serverOption, stdout, table, when } from "./common.js"
import { readBlueprintFile } from "./input.js"

const file = Args.text({ name: "file" }).pipe(Args.withDescription("a blueprint JSON file"))

const idOption = Options.text("id").pipe(
  Options.withPseudoName("ID"),
  Options.withDescription("store it under this id (default: the file's \"id\", else the file name without .json)"),
  Options.optional
)

const hints = {
  unknown_blueprint: "list stored blueprints with `swarmgate blueprint list`",
  invalid_blueprint: "see every problem with `swarmgate blueprint validate <file>`"
}

const put = Cli.make("put", { file, id: idOption, json: jsonOption, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const doc = yield* readBlueprintFile(options.file)
    const id = Option.getOrElse(
      options.id,
      () => typeof doc.id === "string" && doc.id.trim() !== "" ? doc.id : basename(options.file).replace(/\.json$/i, "")
    )
    const api = yield* makeApiClient(options.server)
    const stored = yield* api.blueprints.put({ path: { id }, payload: { ...doc, id } })
    yield* options.json ? printJson(stored) : stdout(`stored blueprint ${stored.id} version ${stored.version}`)
  }).pipe((body) => command(options.server, body, hints))).pipe(
    Cli.withDescription("store a blueprint on the server (a new version when the id exists)")
  )

const validate = Cli.make("validate", { file, json: jsonOption }, (options) =>
  Effect.gen(function*() {
    const doc = yield* readBlueprintFile(options.file)
    const problems = Either.match(validateBlueprint(doc), { onLeft: (p) => p, onRight: () => [] })
    if (options.json) yield* printJson({ valid: problems.length === 0, problems })
    else if (problems.length === 0) yield* stdout(`${options.file}: a valid blueprint`)
    else yield* stdout(problems.map((p) => `${p.path}: ${p.message}`).join("\n"))
    if (problems.length > 0) return yield* exitWith(1)
  }).pipe((body) => command(undefined, body))).pipe(
    Cli.withDescription("check a blueprint file without storing it; prints every problem with its JSON path")
  )

const list = Cli.make("list", { json: jsonOption, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const api = yield* makeApiClient(options.server)
    const result = yield* api.blueprints.list()
    if (options.json) return yield* printJson(result)
    yield* stdout(table(["ID", "VERSION", "UPDATED"], result.blueprints.map((b) => [b.id, String(b.version), when(b.updated_at)])))
  }).pipe((body) => command(options.server, body))).pipe(Cli.withDescription("list stored blueprints"))

const version = Options.integer("version").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("show this version (default: the latest)"),
  Options.optional
)

const showOne = Cli.make(
  "show",
  { id: Args.text({ name: "id" }).pipe(Args.withDescription("the blueprint's id")), version, server: serverOption },
  (options) =>
    Effect.gen(function*() {
      const api = yield* makeApiClient(options.server)
      const stored = yield* api.blueprints.get({
        path: { id: options.id },
        urlParams: Option.isSome(options.version) ? { version: options.version.value } : {}
      })
      yield* printJson(stored.blueprint)
    }).pipe((body) => command(options.server, body, hints))
).pipe(Cli.withDescription("print a stored blueprint as JSON"))

export const blueprint = Cli.make("blueprint").pipe(
  Cli.withDescription("store, check, list and show blueprints"),
  Cli.withSubcommands([put, validate, list, showOne])
)
