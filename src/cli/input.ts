/** Reading what the user passes on the command line: `--input JSON|@file` and blueprint files. */
import { Effect } from "effect"
import { existsSync, readFileSync, statSync } from "node:fs"
import { type CliFailure, failure } from "./common.js"

const reason = (e: unknown) => {
  const code = (e as { code?: string }).code
  if (code === "ENOENT") return "no such file"
  if (code === "EACCES") return "permission denied"
  if (code === "EISDIR") return "it is a directory"
  return e instanceof Error ? e.message : String(e)
}

/** Reads a file as text, or one line naming the file and what to do. */
export const readText = (path: string, what: string): Effect.Effect<string, CliFailure> =>
  Effect.try({
    try: () => {
      if (statSync(path).isDirectory()) throw Object.assign(new Error("directory"), { code: "EISDIR" })
      return readFileSync(path, "utf8")
    },
    catch: (e) => failure(`cannot read ${what} ${path}: ${reason(e)}; check the path`)
  })

const parse = (text: string, what: string, example: string): Effect.Effect<unknown, CliFailure> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) =>
      failure(`${what} is not valid JSON (${e instanceof Error ? e.message : String(e)}); ${example}`)
  })

/** `--input '{"a": 1}'` or `--input @file.json`. */
export const readInput = (value: string): Effect.Effect<unknown, CliFailure> => {
  const example = `pass a JSON value such as --input '{"request": "add a flag"}', or --input @file.json`
  if (value.startsWith("@")) {
    const path = value.slice(1)
    return readText(path, "--input file").pipe(Effect.flatMap((text) => parse(text, `--input file ${path}`, example)))
  }
  return parse(value, "--input", example)
}

/** A blueprint argument: a file (inline blueprint) or the id of a stored blueprint. */
export type BlueprintRef =
  | { readonly _tag: "Inline"; readonly path: string; readonly blueprint: Record<string, unknown> }
  | { readonly _tag: "Stored"; readonly id: string }

export const readBlueprintFile = (path: string): Effect.Effect<Record<string, unknown>, CliFailure> =>
  readText(path, "blueprint file").pipe(
    Effect.flatMap((text) => parse(text, `blueprint file ${path}`, "fix the JSON, then check it with `swarmgate blueprint validate`")),
    Effect.flatMap((doc) =>
      typeof doc === "object" && doc !== null && !Array.isArray(doc)
        ? Effect.succeed(doc as Record<string, unknown>)
        : Effect.fail(failure(`blueprint file ${path} must hold a JSON object (a blueprint), not ${Array.isArray(doc) ? "an array" : typeof doc}`))
    )
  )

/** A path that exists, or anything that looks like a file name, is a file; else a stored id. */
export const blueprintRef = (arg: string): Effect.Effect<BlueprintRef, CliFailure> =>
  existsSync(arg) || /\.json$/i.test(arg) || arg.includes("/")
    ? Effect.map(readBlueprintFile(arg), (blueprint) => ({ _tag: "Inline", path: arg, blueprint }) as const)
    : Effect.succeed({ _tag: "Stored", id: arg } as const)

/** Whether a blueprint document has agents that need an operator. */
export const hasOperatorAgents = (blueprint: unknown): boolean => {
  const agents = (blueprint as { agents?: unknown })?.agents
  return Array.isArray(agents) && agents.some((a) => (a as { kind?: unknown })?.kind === "operator")
}
