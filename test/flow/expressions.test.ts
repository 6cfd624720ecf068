import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import type { Expr } from "../../src/protocol/blueprint.js"
import { deepEqual, evalExpr, truthy } from "../../src/services/flow/expressions.js"
import { forAll, genJson, reshuffle } from "./gen.js"

const lit = (value: unknown): Expr => ({ op: "lit", value })
const path = (at: string): Expr => ({ op: "path", at })
const missing: Expr = path("$.nowhere.at.all")

const ok = (expr: Expr, ctx: unknown = {}) => {
  const r = evalExpr(expr, ctx)
  if (Either.isLeft(r)) throw new Error(`expected success, got: ${r.left.message}`)
  return r.right
}
const err = (expr: Expr, ctx: unknown = {}) => {
  const r = evalExpr(expr, ctx)
  if (Either.isRight(r)) throw new Error(`expected failure, got: ${JSON.stringify(r.right)}`)
  return r.left.message
}

describe("expressions: properties over random JSON", () => {
  it("eq is reflexive, also across key order", () =>
    forAll(300, (r) => {
      const v = genJson(r)
      expect(ok({ op: "eq", lhs: lit(v), rhs: lit(v) })).toBe(true)
      expect(ok({ op: "eq", lhs: lit(v), rhs: lit(reshuffle(v)) })).toBe(true)
      expect(ok({ op: "ne", lhs: lit(v), rhs: lit(reshuffle(v)) })).toBe(false)
    }))

  it("eq is symmetric and ne is its negation", () =>
    forAll(300, (r) => {
      const a = genJson(r)
      const b = r.next() < 0.3 ? reshuffle(a) : genJson(r)
      const ab = ok({ op: "eq", lhs: lit(a), rhs: lit(b) })
      expect(ok({ op: "eq", lhs: lit(b), rhs: lit(a) })).toBe(ab)
      expect(ok({ op: "ne", lhs: lit(a), rhs: lit(b) })).toBe(!ab)
      expect(deepEqual(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b) || ab)
    }))

  it("numbers compare by value", () => {
    expect(ok({ op: "eq", lhs: lit(1), rhs: lit(1.0) })).toBe(true)
    expect(ok({ op: "eq", lhs: lit(JSON.parse("1.0")), rhs: lit(JSON.parse("1")) })).toBe(true)
    expect(ok({ op: "eq", lhs: lit(JSON.parse("[1e2]")), rhs: lit([100]) })).toBe(true)
    expect(ok({ op: "eq", lhs: lit(0), rhs: lit(-0) })).toBe(true)
    expect(ok({ op: "eq", lhs: lit(1), rhs: lit("1") })).toBe(false)
    forAll(200, (r) => {
      const a = r.int(-50, 50) / 4
      const b = r.int(-50, 50) / 4
      expect(ok({ op: "lt", lhs: lit(a), rhs: lit(b) })).toBe(a < b)
      expect(ok({ op: "lte", lhs: lit(a), rhs: lit(b) })).toBe(a <= b)
      expect(ok({ op: "gt", lhs: lit(a), rhs: lit(b) })).toBe(a > b)
      expect(ok({ op: "gte", lhs: lit(a), rhs: lit(b) })).toBe(a >= b)
    })
  })

  it("not(not x) equals truthy(x); only null and false are falsy", () => {
    forAll(300, (r) => {
      const v = genJson(r)
      expect(ok({ op: "not", arg: { op: "not", arg: lit(v) } })).toBe(truthy(v))
      expect(truthy(v)).toBe(!(v === null || v === false))
    })
    for (const v of [0, "", [], {}]) expect(ok({ op: "not", arg: lit(v) })).toBe(false)
  })

  it("and/or short-circuit: the side not evaluated may be a failing path", () => {
    expect(ok({ op: "and", args: [lit(false), missing] })).toBe(false)
    expect(ok({ op: "and", args: [lit(null), missing] })).toBe(false)
    expect(ok({ op: "or", args: [lit(0), missing] })).toBe(true)
    expect(err({ op: "and", args: [lit(true), missing] })).toContain("$.nowhere")
    expect(err({ op: "or", args: [lit(false), missing] })).toContain("$.nowhere")
    expect(ok({ op: "and", args: [] })).toBe(true)
    expect(ok({ op: "or", args: [] })).toBe(false)
    forAll(200, (r) => {
      const vs = Array.from({ length: r.int(0, 4) }, () => genJson(r, 1))
      expect(ok({ op: "and", args: vs.map(lit) })).toBe(vs.every(truthy))
      expect(ok({ op: "or", args: vs.map(lit) })).toBe(vs.some(truthy))
    })
  })

  it("in: deep equality in arrays, substring in strings, key in objects", () =>
    forAll(200, (r) => {
      const v = genJson(r)
      const other = genJson(r)
      expect(ok({ op: "in", needle: lit(reshuffle(v)), haystack: lit([other, v]) })).toBe(true)
      expect(ok({ op: "in", needle: lit(v), haystack: lit([]) })).toBe(false)
    }))
})

describe("expressions: each op", () => {
  const ctx = { a: { b: 2, "x.y": "dot" }, list: [1, 2, 3], s: "héllo", n: null }

  it("path reads, missing path fails naming the path", () => {
    expect(ok(path("$"), ctx)).toEqual(ctx)
    expect(ok(path("$.a.b"), ctx)).toBe(2)
    expect(ok(path("$.a[\"x.y\"]"), ctx)).toBe("dot")
    expect(ok(path("$.list[1]"), ctx)).toBe(2)
    expect(ok(path("$.n"), ctx)).toBe(null)
    expect(err(path("$.a.c"), ctx)).toContain("$.a.c")
  })

  it("lit returns its value", () => expect(ok(lit({ k: [1] }))).toEqual({ k: [1] }))

  it("lt/gt on strings, else an error naming the op", () => {
    expect(ok({ op: "lt", lhs: lit("a"), rhs: lit("b") })).toBe(true)
    expect(ok({ op: "gte", lhs: lit("b"), rhs: lit("b") })).toBe(true)
    expect(err({ op: "lt", lhs: lit(1), rhs: lit("2") })).toMatch(/^lt: /)
    expect(err({ op: "gt", lhs: lit(null), rhs: lit(null) })).toMatch(/^gt: /)
    expect(err({ op: "lte", lhs: lit([1]), rhs: lit([2]) })).toMatch(/^lte: /)
  })

  it("arithmetic on numbers; division by zero and non-numbers fail", () => {
    expect(ok({ op: "add", lhs: lit(2), rhs: lit(3) })).toBe(5)
    expect(ok({ op: "sub", lhs: lit(2), rhs: lit(3) })).toBe(-1)
    expect(ok({ op: "mul", lhs: lit(2), rhs: lit(3.5) })).toBe(7)
    expect(ok({ op: "div", lhs: lit(7), rhs: lit(2) })).toBe(3.5)
    expect(ok({ op: "mod", lhs: lit(-7), rhs: lit(3) })).toBe(-1)
    expect(err({ op: "div", lhs: lit(1), rhs: lit(0) })).toContain("division by zero")
    expect(err({ op: "mod", lhs: lit(1), rhs: lit(0) })).toContain("division by zero")
    expect(err({ op: "add", lhs: lit("1"), rhs: lit(1) })).toMatch(/^add: .*string/)
    expect(ok({ op: "add", lhs: path("$.a.b"), rhs: lit(1) }, ctx)).toBe(3)
  })

  it("exists never fails on a missing path", () => {
    expect(ok({ op: "exists", arg: path("$.a.b") }, ctx)).toBe(true)
    expect(ok({ op: "exists", arg: path("$.n") }, ctx)).toBe(true)
    expect(ok({ op: "exists", arg: path("$.a.zz") }, ctx)).toBe(false)
    expect(ok({ op: "exists", arg: path("$.s.deeper") }, ctx)).toBe(false)
    expect(ok({ op: "exists", arg: path("$.list[9]") }, ctx)).toBe(false)
    // A type error is not "missing", so it still fails.
    expect(err({ op: "exists", arg: { op: "len", arg: lit(3) } })).toMatch(/^len: /)
  })

  it("len of strings, arrays and objects", () => {
    expect(ok({ op: "len", arg: path("$.s") }, ctx)).toBe(5)
    expect(ok({ op: "len", arg: lit("😀") })).toBe(1)
    expect(ok({ op: "len", arg: path("$.list") }, ctx)).toBe(3)
    expect(ok({ op: "len", arg: path("$.a") }, ctx)).toBe(2)
    expect(err({ op: "len", arg: lit(true) })).toMatch(/^len: .*boolean/)
  })

  it("in: substring, key, errors", () => {
    expect(ok({ op: "in", needle: lit("ell"), haystack: lit("hello") })).toBe(true)
    expect(ok({ op: "in", needle: lit("x.y"), haystack: path("$.a") }, ctx)).toBe(true)
    expect(ok({ op: "in", needle: lit("q"), haystack: path("$.a") }, ctx)).toBe(false)
    expect(ok({ op: "in", needle: lit({ k: [1, 2] }), haystack: lit([{ k: [1, 2] }]) })).toBe(true)
    expect(err({ op: "in", needle: lit(1), haystack: lit("1") })).toMatch(/^in: /)
    expect(err({ op: "in", needle: lit(1), haystack: lit(1) })).toMatch(/^in: /)
  })

  it("obj builds an object from its fields, failing on the first failing field", () => {
    expect(ok({ op: "obj", fields: { p: path("$.a.b"), q: lit("x"), ["__proto__"]: lit(1) } }, ctx)).toEqual(
      JSON.parse("{\"p\":2,\"q\":\"x\",\"__proto__\":1}")
    )
    expect(err({ op: "obj", fields: { p: missing } })).toContain("$.nowhere")
  })
})
