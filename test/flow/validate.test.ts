import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import { readFileSync } from "node:fs"
import { type BlueprintProblem, decodeBlueprint, validateBlueprint } from "../../src/services/flow/validate.js"

// The example of spec blueprint.md, extracted verbatim.
const example = (): any => JSON.parse(readFileSync(new URL("./example-blueprint.json", import.meta.url), "utf8"))

const problems = (doc: unknown): ReadonlyArray<BlueprintProblem> => {
  const r = validateBlueprint(doc)
  if (Either.isRight(r)) throw new Error("expected problems, the blueprint validated")
  return r.left
}
const at = (doc: unknown, path: string): Array<string> =>
  problems(doc).filter((p) => p.path === path).map((p) => p.message)

describe("validateBlueprint", () => {
  it("the example blueprint of blueprint.md validates unchanged", () => {
    const doc = example()
    const r = validateBlueprint(doc)
    expect(Either.isRight(r)).toBe(true)
    expect(Either.getOrThrow(r)).toEqual(doc)
  })

  it("a minimal blueprint validates, metadata may hold any JSON", () => {
    const doc = {
      metadata: { project_name_alias: "x", team: { size: 3 }, tags: ["a"], flag: null },
      agents: [],
      flow: { kind: "assign", at: "$.a", value: { op: "lit", value: 1 } }
    }
    expect(Either.isRight(validateBlueprint(doc))).toBe(true)
  })

  it("a non-object is one problem at $", () => {
    expect(problems([1])).toEqual([{ path: "$", message: expect.stringContaining("JSON object") }])
    expect(problems(null)).toHaveLength(1)
  })

  it("unknown fields are refused, naming their path", () => {
    const doc = example()
    doc.colour = "red"
    doc.agents[2].temperature = 0.2
    doc.flow.children[2].body.children[1].timeout = 5
    doc.flow.children[1].value.extra = true
    const all = problems(doc)
    expect(all.map((p) => p.path)).toEqual([
      "$.colour",
      "$.agents[2].temperature",
      "$.flow.children[1].value.extra",
      "$.flow.children[2].body.children[1].timeout"
    ])
    expect(all[0]!.message).toMatch(/^unknown field "colour": remove it/)
  })

  it("missing fields and wrong types are reported with their paths", () => {
    const doc = example()
    delete doc.agents[0].operator
    doc.agents[3].command = "npx eslint"
    doc.flow.children[2].max = "3"
    delete doc.flow.children[0].ref
    expect(at(doc, "$.agents[0].operator")).toEqual(["missing required field \"operator\": add it"])
    expect(at(doc, "$.agents[3].command")[0]).toMatch(/expected ReadonlyArray<string>, got "npx eslint"/)
    expect(at(doc, "$.flow.children[2].max")[0]).toMatch(/expected number, got "3"/)
    expect(at(doc, "$.flow.children[0].ref")).toEqual(["missing required field \"ref\": add it"])
    expect(at(doc, "$.agents")).toEqual([])
  })

  it("unknown kinds and ops list the accepted ones", () => {
    const doc = example()
    doc.agents[4].kind = "plugin"
    doc.flow.children[1].value.op = "concat"
    doc.flow.children[3].kind = "parallel"
    expect(at(doc, "$.agents[4].kind")).toEqual(["unknown kind \"plugin\": use one of operator, subprocess, builtin"])
    expect(at(doc, "$.flow.children[1].value.op")[0]).toMatch(/^unknown op "concat": use one of path, lit, eq/)
    expect(at(doc, "$.flow.children[3].kind")[0]).toMatch(/^unknown kind "parallel": use one of step, seq, branch/)
  })

  it("duplicate agent names", () => {
    const doc = example()
    doc.agents.push({ name: "coder", kind: "builtin", fn: "echo" })
    expect(at(doc, "$.agents[5].name")).toEqual([
      "duplicate agent name \"coder\" (also $.agents[1]): give each agent a unique name"
    ])
  })

  it("a step ref naming no agent", () => {
    const doc = example()
    doc.flow.children[2].body.children[1].ref = "reviewr"
    expect(at(doc, "$.flow.children[2].body.children[1].ref")[0]).toMatch(
      /^step refers to agent "reviewr", which is not declared \(declared agents: planner, coder, reviewer, lint, stamp\)/
    )
  })

  it("an operator agent naming no declared seat", () => {
    const doc = example()
    doc.agents[1].operator = "ghost"
    expect(at(doc, "$.agents[1].operator")[0]).toMatch(/^seat "ghost" is not declared in operators \(declared seats: lead\)/)
    delete doc.operators
    expect(at(doc, "$.agents[0].operator")[0]).toContain("operators declares no seat")
  })

  it("an unknown middleware name, with its path", () => {
    const doc = example()
    doc.middleware = ["main_ai", "audit"]
    expect(problems(doc)).toEqual([
      { path: "$.middleware[1]", message: "unknown middleware \"audit\": use one of main_ai, senior_escalation" }
    ])
  })

  it("a builtin fn that does not exist", () => {
    const doc = example()
    doc.agents[4].fn = "upper"
    expect(problems(doc)).toEqual([
      { path: "$.agents[4].fn", message: "unknown builtin fn \"upper\": use one of identity, fail, sleep, echo" }
    ])
  })

  it("an empty command", () => {
    const doc = example()
    doc.agents[3].command = []
    expect(at(doc, "$.agents[3].command")[0]).toMatch(/^command is empty: give the program/)
    doc.agents[3].command = ["", "x"]
    expect(at(doc, "$.agents[3].command[0]")[0]).toMatch(/program name is empty/)
  })

  it("paths that do not parse, in node fields and in path expressions", () => {
    const doc = example()
    doc.flow.children[0].out = "plan"
    doc.flow.children[2].counter = "$.round."
    doc.flow.children[2].cond.lhs.at = "$[review]"
    const all = problems(doc)
    expect(all.map((p) => p.path).sort()).toEqual([
      "$.flow.children[0].out",
      "$.flow.children[2].cond.lhs.at",
      "$.flow.children[2].counter"
    ])
    for (const p of all) expect(p.message).toMatch(/does not parse .*write paths like \$, \$\.a\.b/)
  })

  it("a fanout join that is not all, any, race or all_settled", () => {
    const doc = example()
    doc.flow.children.push({
      kind: "fanout",
      items: { op: "lit", value: [1] },
      bind: "$.i",
      body: { kind: "step", ref: "stamp", in: { op: "path", at: "$.i" }, out: "$.o" },
      join: "first",
      out: "$.all"
    })
    expect(problems(doc)).toEqual([
      { path: "$.flow.children[4].join", message: "unknown fanout join \"first\": use one of all, any, race, all_settled" }
    ])
  })

  it("reports every problem at once, schema and semantic together", () => {
    const doc = example()
    doc.unknown = 1
    doc.middleware = ["nope"]
    doc.agents[0].operator = "ghost"
    doc.agents[3].command = []
    doc.agents[4].fn = "zap"
    doc.agents.push({ name: "lint", kind: "builtin", fn: "identity" })
    delete doc.flow.children[1].at
    doc.flow.children[3].ref = "nobody"
    doc.flow.children[3].out = "$..x"
    const paths = problems(doc).map((p) => p.path).sort()
    expect(paths).toEqual([
      "$.agents[0].operator",
      "$.agents[3].command",
      "$.agents[4].fn",
      "$.agents[5].name",
      "$.flow.children[1].at",
      "$.flow.children[3].out",
      "$.flow.children[3].ref",
      "$.middleware[0]",
      "$.unknown"
    ])
  })

  it.effect("decodeBlueprint fails with BlueprintInvalid carrying the problems", () =>
    Effect.gen(function*() {
      expect((yield* decodeBlueprint(example())).id).toBe("review-loop")
      const exit = yield* Effect.exit(decodeBlueprint({ agents: [], flow: { kind: "seq", children: [], x: 1 } }))
      expect(exit).toMatchObject(Exit.fail({ _tag: "BlueprintInvalid" }))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error.problems).toEqual([
          { path: "$.flow.x", message: expect.stringMatching(/^unknown field "x"/) }
        ])
        expect(exit.cause.error.message).toMatch(/^\$\.flow\.x: unknown field/)
      } else throw new Error("expected a failure")
    }))
})
