/**
 * The expression language of blueprint flows (docs/blueprints.md, "Expressions"). Pure.
 *
 * Decisions where the spec is silent:
 * - `and`/`or` return booleans (not the deciding operand); empty `and` is true, empty `or` false.
 * - `exists` is false when its argument fails because something is missing on the way
 *   (a missing field, an index out of range, a non-container on the way); other errors,
 *   such as a type error inside the argument, still fail.
 * - `lt`/`lte`/`gt`/`gte` compare strings by UTF-16 code units.
 * - `len` of a string counts code points; of an object, its keys.
 * - `mod` keeps the sign of the dividend (JS `%`); a non-finite result is an error.
 * - `in` with a string or object haystack needs a string needle.
 */
import { Data, Either } from "effect"
import type { Expr } from "../../protocol/blueprint.js"
import { readPath, typeName } from "./paths.js"

export class ExprError extends Data.TaggedError("ExprError")<{
  readonly message: string
  /** The failure comes from reading a path where nothing is (what `exists` turns into false). */
  readonly missing: boolean
}> {}

/** Only null and false are falsy (undefined, never produced from JSON, too). */
export const truthy = (v: unknown): boolean => v !== null && v !== false && v !== undefined

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Deep structural equality over JSON values; object key order does not matter. */
export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (isObject(a)) {
    if (!isObject(b)) return false
    const ka = Object.keys(a)
    if (ka.length !== Object.keys(b).length) return false
    for (const k of ka) if (!Object.hasOwn(b, k) || !deepEqual(a[k], b[k])) return false
    return true
  }
  return false
}

const fail = (message: string, missing = false) => Either.left(new ExprError({ message, missing }))

type Result = Either.Either<unknown, ExprError>

const compare = (op: "lt" | "lte" | "gt" | "gte", l: unknown, r: unknown): Result => {
  const bothNumbers = typeof l === "number" && typeof r === "number"
  const bothStrings = typeof l === "string" && typeof r === "string"
  if (!bothNumbers && !bothStrings) {
    return fail(`${op}: cannot compare ${typeName(l)} with ${typeName(r)}; both sides must be numbers or both strings`)
  }
  const a = l as number | string
  const b = r as number | string
  switch (op) {
    case "lt":
      return Either.right(a < b)
    case "lte":
      return Either.right(a <= b)
    case "gt":
      return Either.right(a > b)
    case "gte":
      return Either.right(a >= b)
  }
}

const arith = (op: "add" | "sub" | "mul" | "div" | "mod", l: unknown, r: unknown): Result => {
  if (typeof l !== "number" || typeof r !== "number") {
    return fail(`${op}: both sides must be numbers, got ${typeName(l)} and ${typeName(r)}`)
  }
  if ((op === "div" || op === "mod") && r === 0) return fail(`${op}: division by zero`)
  const value = op === "add" ? l + r : op === "sub" ? l - r : op === "mul" ? l * r : op === "div" ? l / r : l % r
  if (!Number.isFinite(value)) return fail(`${op}: the result is not a finite number`)
  return Either.right(value)
}

const length = (v: unknown): Result => {
  if (typeof v === "string") return Either.right(Array.from(v).length)
  if (Array.isArray(v)) return Either.right(v.length)
  if (isObject(v)) return Either.right(Object.keys(v).length)
  return fail(`len: expects a string, an array or an object, got ${typeName(v)}`)
}

const contains = (needle: unknown, haystack: unknown): Result => {
  if (Array.isArray(haystack)) return Either.right(haystack.some((item) => deepEqual(item, needle)))
  if (typeof haystack === "string" || isObject(haystack)) {
    if (typeof needle !== "string") {
      return fail(`in: a ${typeName(haystack)} haystack needs a string needle, got ${typeName(needle)}`)
    }
    return Either.right(typeof haystack === "string" ? haystack.includes(needle) : Object.hasOwn(haystack, needle))
  }
  return fail(`in: the haystack must be an array, a string or an object, got ${typeName(haystack)}`)
}

/** Evaluates an expression against a context. */
export const evalExpr = (expr: Expr, ctx: unknown): Result => {
  switch (expr.op) {
    case "path":
      return Either.mapLeft(
        readPath(ctx, expr.at),
        (e) => new ExprError({ message: e.message, missing: e.reason !== "syntax" })
      )
    case "lit":
      return Either.right(expr.value)
    case "eq":
    case "ne": {
      const l = evalExpr(expr.lhs, ctx)
      if (Either.isLeft(l)) return l
      const r = evalExpr(expr.rhs, ctx)
      if (Either.isLeft(r)) return r
      const same = deepEqual(l.right, r.right)
      return Either.right(expr.op === "eq" ? same : !same)
    }
    case "lt":
    case "lte":
    case "gt":
    case "gte": {
      const l = evalExpr(expr.lhs, ctx)
      if (Either.isLeft(l)) return l
      const r = evalExpr(expr.rhs, ctx)
      if (Either.isLeft(r)) return r
      return compare(expr.op, l.right, r.right)
    }
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "mod": {
      const l = evalExpr(expr.lhs, ctx)
      if (Either.isLeft(l)) return l
      const r = evalExpr(expr.rhs, ctx)
      if (Either.isLeft(r)) return r
      return arith(expr.op, l.right, r.right)
    }
    case "not":
      return Either.map(evalExpr(expr.arg, ctx), (v) => !truthy(v))
    case "and":
    case "or": {
      // Short-circuit: `and` stops at the first falsy operand, `or` at the first truthy one.
      const stopOn = expr.op === "or"
      for (const arg of expr.args) {
        const v = evalExpr(arg, ctx)
        if (Either.isLeft(v)) return v
        if (truthy(v.right) === stopOn) return Either.right(stopOn)
      }
      return Either.right(!stopOn)
    }
    case "exists": {
      const v = evalExpr(expr.arg, ctx)
      if (Either.isRight(v)) return Either.right(true)
      return v.left.missing ? Either.right(false) : v
    }
    case "len":
      return Either.flatMap(evalExpr(expr.arg, ctx), length)
    case "in": {
      const needle = evalExpr(expr.needle, ctx)
      if (Either.isLeft(needle)) return needle
      const haystack = evalExpr(expr.haystack, ctx)
      if (Either.isLeft(haystack)) return haystack
      return contains(needle.right, haystack.right)
    }
    case "obj": {
      const out: Record<string, unknown> = {}
      for (const [name, field] of Object.entries(expr.fields)) {
        const v = evalExpr(field, ctx)
        if (Either.isLeft(v)) return v
        // defineProperty so a "__proto__" field becomes a plain own field.
        Object.defineProperty(out, name, { value: v.right, enumerable: true, writable: true, configurable: true })
      }
      return Either.right(out)
    }
  }
}
