/**
 * Blueprint validation (docs/blueprints.md): the schema (shape, unknown fields, enumerations)
 * and the cross-references the schema cannot see, all reported at once with JSON paths.
 *
 * The semantic checks walk the raw JSON, not the decoded value, so they still run (and
 * report) when the schema has already found problems elsewhere in the document.
 */
import { Data, Effect, Either } from "effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type Blueprint, BlueprintSchema, blueprintParseOptions } from "../../protocol/blueprint.js"
import { MAX_JSON_DEPTH, valueDepthExceeds } from "../../protocol/json.js"
import { formatPath, type Path, parsePath, readPath, typeName } from "./paths.js"

export interface BlueprintProblem {
  /** JSON path of the offending value, e.g. `$.agents[2].operator`. */
  readonly path: string
  /** What is wrong and what to do about it. */
  readonly message: string
}

export class BlueprintInvalid extends Data.TaggedError("BlueprintInvalid")<{
  readonly problems: ReadonlyArray<BlueprintProblem>
  /** formatProblems(problems). */
  readonly message: string
}> {}

/** One line per problem, `path: message`. */
export const formatProblems = (problems: ReadonlyArray<BlueprintProblem>): string =>
  problems.map((p) => `${p.path}: ${p.message}`).join("\n")

const decode = Schema.decodeUnknownEither(BlueprintSchema, blueprintParseOptions)

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

const toPath = (segments: ReadonlyArray<PropertyKey>): Path =>
  segments.map((s) => (typeof s === "number" ? s : String(s)))

/** Rewrites Effect's schema messages into "what is wrong; what to do". */
const schemaProblem = (raw: unknown, issue: ParseResult.ArrayFormatterIssue): BlueprintProblem => {
  const segments = toPath(issue.path)
  const path = formatPath(segments)
  const last = segments[segments.length - 1]
  switch (issue._tag) {
    case "Unexpected":
      return {
        path,
        message: `unknown field ${JSON.stringify(last)}: remove it (${issue.message.replace(/^is unexpected, /, "")})`
      }
    case "Missing":
      return { path, message: `missing required field ${JSON.stringify(last)}: add it` }
    default: {
      // Struct/union expectations print the whole schema; say what kind of value was wanted instead.
      if (issue.message.startsWith("Expected {") || issue.message.includes("| {")) {
        const actual = Either.getOrUndefined(readPath(raw, segments))
        return { path, message: `expected an object, got ${typeName(actual)}: give an object here` }
      }
      const tags = /^Expected ((?:"[^"]*"(?: \| )?)+), actual /.exec(issue.message)
      if (tags !== null && (last === "kind" || last === "op")) {
        const actual = Either.getOrUndefined(readPath(raw, segments))
        const allowed = [...tags[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join(", ")
        return { path, message: `unknown ${last} ${JSON.stringify(actual)}: use one of ${allowed}` }
      }
      if (issue.message.startsWith("Expected")) {
        const what = issue.message.replace(/^Expected/, "expected").replace(/, actual /, ", got ")
        return { path, message: `wrong value: ${what}; correct it` }
      }
      return { path, message: issue.message }
    }
  }
}

/** Cross-reference and syntax checks on the raw document. */
const semanticProblems = (raw: Record<string, unknown>): Array<BlueprintProblem> => {
  const problems: Array<BlueprintProblem> = []
  const report = (path: Path, message: string) => problems.push({ path: formatPath(path), message })

  const seats = new Set<string>()
  if (Array.isArray(raw.operators)) {
    raw.operators.forEach((seat, i) => {
      if (!isObject(seat) || typeof seat.name !== "string") return
      if (seat.name === "") report(["operators", i, "name"], "seat name is empty: give the seat a name")
      else if (seats.has(seat.name)) {
        report(["operators", i, "name"], `duplicate seat ${JSON.stringify(seat.name)}: declare each seat once`)
      }
      seats.add(seat.name)
    })
  }

  const agents = new Map<string, number>()
  if (Array.isArray(raw.agents)) {
    raw.agents.forEach((agent, i) => {
      if (!isObject(agent)) return
      if (typeof agent.name === "string") {
        const first = agents.get(agent.name)
        if (agent.name === "") report(["agents", i, "name"], "agent name is empty: give the agent a name")
        else if (first !== undefined) {
          report(
            ["agents", i, "name"],
            `duplicate agent name ${JSON.stringify(agent.name)} (also $.agents[${first}]): give each agent a unique name`
          )
        } else agents.set(agent.name, i)
      }
      if (agent.kind === "operator" && typeof agent.operator === "string" && !seats.has(agent.operator)) {
        const known = seats.size === 0 ? "operators declares no seat" : `declared seats: ${[...seats].join(", ")}`
        report(
          ["agents", i, "operator"],
          `seat ${JSON.stringify(agent.operator)} is not declared in operators (${known}): ` +
            `add {"name": ${JSON.stringify(agent.operator)}} to operators or use a declared seat`
        )
      }
      if (agent.kind === "subprocess" && Array.isArray(agent.command)) {
        if (agent.command.length === 0) {
          report(["agents", i, "command"], "command is empty: give the program and its arguments, e.g. [\"npx\", \"eslint\"]")
        } else if (agent.command[0] === "") {
          report(["agents", i, "command", 0], "the program name is empty: put the program to run first in command")
        }
      }
    })
  }

  const checkPath = (at: Path, value: unknown) => {
    if (typeof value !== "string") return
    const parsed = parsePath(value)
    if (Either.isLeft(parsed)) report(at, `${parsed.left.message}`)
  }

  const walkExpr = (at: Path, expr: unknown): void => {
    if (!isObject(expr)) return
    if (expr.op === "path") checkPath([...at, "at"], expr.at)
    for (const key of ["lhs", "rhs", "arg", "needle", "haystack"] as const) {
      if (key in expr) walkExpr([...at, key], expr[key])
    }
    if (Array.isArray(expr.args)) expr.args.forEach((arg, i) => walkExpr([...at, "args", i], arg))
    if (isObject(expr.fields)) for (const [name, field] of Object.entries(expr.fields)) walkExpr([...at, "fields", name], field)
  }

  const walkNode = (at: Path, node: unknown): void => {
    if (!isObject(node)) return
    for (const key of ["in", "cond", "items", "value"] as const) {
      if (key in node) walkExpr([...at, key], node[key])
    }
    for (const key of ["out", "counter", "bind", "err_at", "at"] as const) {
      if (key in node) checkPath([...at, key], node[key])
    }
    if (node.kind === "step" && typeof node.ref === "string" && !agents.has(node.ref)) {
      const known = agents.size === 0 ? "no agent is declared" : `declared agents: ${[...agents.keys()].join(", ")}`
      report(
        [...at, "ref"],
        `step refers to agent ${JSON.stringify(node.ref)}, which is not declared (${known}): declare it in agents or fix the name`
      )
    }
    if (Array.isArray(node.children)) node.children.forEach((child, i) => walkNode([...at, "children", i], child))
    for (const key of ["then", "else", "body", "catch"] as const) {
      if (key in node) walkNode([...at, key], node[key])
    }
  }
  if ("flow" in raw) walkNode(["flow"], raw.flow)
  return problems
}

/** Validates a blueprint document, reporting every problem at once. */
export const validateBlueprint = (json: unknown): Either.Either<Blueprint, ReadonlyArray<BlueprintProblem>> => {
  if (!isObject(json)) {
    return Either.left([{ path: "$", message: `a blueprint is a JSON object, got ${typeName(json)}: send an object` }])
  }
  // Schema decoding and the walks below recurse; a document nested past the JSON limit is
  // refused first, by an iterative check, so validation is safe at any depth it is given and
  // evaluation only ever sees flows that deep at most.
  if (valueDepthExceeds(json)) {
    return Either.left([{
      path: "$",
      message: `the blueprint nests deeper than ${MAX_JSON_DEPTH} levels; flatten the flow (a seq of steps ` +
        `instead of nested ones)`
    }])
  }
  const decoded = decode(json)
  const problems: Array<BlueprintProblem> = []
  if (Either.isLeft(decoded)) {
    for (const issue of ParseResult.ArrayFormatter.formatErrorSync(decoded.left)) problems.push(schemaProblem(json, issue))
  }
  problems.push(...semanticProblems(json))
  // The same problem can be found twice (e.g. by two union members); report it once.
  const seen = new Set<string>()
  const unique = problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  if (unique.length > 0) return Either.left(unique)
  if (Either.isLeft(decoded)) return Either.left([{ path: "$", message: "invalid blueprint" }])
  return Either.right(decoded.right)
}

/** validateBlueprint as an Effect, failing with BlueprintInvalid. */
export const decodeBlueprint = (json: unknown): Effect.Effect<Blueprint, BlueprintInvalid> =>
  Either.match(validateBlueprint(json), {
    onLeft: (problems) => Effect.fail(new BlueprintInvalid({ problems, message: formatProblems(problems) })),
    onRight: Effect.succeed
  })
