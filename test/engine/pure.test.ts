import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Fiber, TestClock } from "effect"
import { runBuiltin } from "../../src/services/agents/builtin.js"
import { inputAsText, parseResultBody, parseResultText } from "../../src/services/parseResult.js"
import { renderTemplate } from "../../src/services/template.js"

describe("parseResult", () => {
  it("parses a JSON object and a JSON array", () => {
    expect(parseResultText(`{"a": 1}`)).toEqual({ a: 1 })
    expect(parseResultText(`  [1, "x"]\n`)).toEqual([1, "x"])
  })

  it("parses JSON inside one leading markdown fence", () => {
    expect(parseResultText("```json\n{\"plan\": [\"a\", \"b\"]}\n```\ntrailing words")).toEqual({ plan: ["a", "b"] })
    expect(parseResultText("```\n[1,2]\n```")).toEqual([1, 2])
  })

  it("keeps anything else as a string with trailing whitespace trimmed", () => {
    expect(parseResultText("APPROVE\n\n")).toBe("APPROVE")
    expect(parseResultText("  hello  ")).toBe("  hello")
    expect(parseResultText("42")).toBe("42")
    expect(parseResultText("\"quoted\"")).toBe("\"quoted\"")
    expect(parseResultText("{not json")).toBe("{not json")
    expect(parseResultText("text first\n```json\n{\"a\":1}\n```")).toBe("text first\n```json\n{\"a\":1}\n```")
  })

  it("a fence whose content is not a JSON container stays the whole string", () => {
    expect(parseResultText("```\nplain\n```")).toBe("```\nplain\n```")
  })

  it("decodes bytes as UTF-8", () => {
    expect(parseResultBody(new TextEncoder().encode(`{"ü": true}`))).toEqual({ "ü": true })
  })

  it("renders input text: strings as is, the rest as JSON", () => {
    expect(inputAsText("x y")).toBe("x y")
    expect(inputAsText({ a: 1 })).toBe(`{"a":1}`)
    expect(inputAsText(undefined)).toBe("null")
  })
})

describe("system_prompt templates", () => {
  it("replaces fields of an object input and the whole input", () => {
    expect(renderTemplate("Plan {{ request }} for {{team}}", { request: "x", team: { n: 2 } }))
      .toEqual(Either.right(`Plan x for {"n":2}`))
    expect(renderTemplate("All: {{ input }}", { a: 1 })).toEqual(Either.right(`All: {"a":1}`))
    expect(renderTemplate("All: {{ input }}", "text")).toEqual(Either.right("All: text"))
  })

  it("names the first unknown placeholder", () => {
    expect(renderTemplate("{{ request }} {{ nope }} {{ other }}", { request: 1 })).toEqual(Either.left("nope"))
    expect(renderTemplate("{{ field }}", "not an object")).toEqual(Either.left("field"))
  })

  it("leaves text without placeholders alone", () => {
    expect(renderTemplate("no placeholders {single}", {})).toEqual(Either.right("no placeholders {single}"))
  })
})

describe("builtin agents", () => {
  it.effect("identity returns its input", () =>
    Effect.gen(function*() {
      const out = yield* runBuiltin({ name: "id", kind: "builtin", fn: "identity" }, { a: [1] })
      expect(out).toEqual({ status: "passed", value: { a: [1] } })
    }))

  it.effect("fail blocks with its input as the value", () =>
    Effect.gen(function*() {
      const out = yield* runBuiltin({ name: "f", kind: "builtin", fn: "fail" }, { why: "no" })
      expect(out.status).toBe("blocked")
      expect(out.value).toEqual({ why: "no" })
    }))

  it.effect("echo returns {agent, input}", () =>
    Effect.gen(function*() {
      const out = yield* runBuiltin({ name: "e", kind: "builtin", fn: "echo" }, "hi")
      expect(out).toEqual({ status: "passed", value: { agent: "e", input: "hi" } })
    }))

  it.effect("sleep waits input.ms on the Clock, then returns its input", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(runBuiltin({ name: "s", kind: "builtin", fn: "sleep" }, { ms: 5000 }))
      yield* TestClock.adjust(Duration.millis(4999))
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Fiber.await(fiber)).toEqual(Exit.succeed({ status: "passed", value: { ms: 5000 } }))
    }))

  it.effect("sleep without a numeric ms fails the step", () =>
    Effect.gen(function*() {
      const out = yield* runBuiltin({ name: "s", kind: "builtin", fn: "sleep" }, { ms: "soon" })
      expect(out.status).toBe("failed")
      expect(out.error).toContain("ms")
    }))
})
