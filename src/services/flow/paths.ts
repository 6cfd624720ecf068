/**
 * Context paths (docs/blueprints.md, "Paths").
 *
 * Syntax: `$` is the whole context; `.name` a field (any run of characters other than
 * `.`, `[`, `]`, quotes and whitespace); `["any key"]` a field written as a JSON string
 * (for dots, spaces, empty keys…); `[3]` an array index (decimal, no sign).
 *
 * Semantics (decided here, the spec is silent on arrays):
 * - Reading a field of something that is not an object, an index of something that is not
 *   an array, a missing field or an index out of range all fail, naming the path.
 * - Writing copies along the path (the context is never mutated) and creates missing
 *   objects on the way. An index writes into an existing array: `0..length-1` replaces,
 *   `length` appends; arrays are never created on the way. Writing through anything else
 *   (a string, null, a number, an array by field name, an object by index) fails.
 */
import { Data, Either } from "effect"

/** A field name (string) or an array index (number). */
export type PathSegment = string | number
export type Path = ReadonlyArray<PathSegment>

export class PathError extends Data.TaggedError("PathError")<{
  readonly message: string
  /** The path as written (or formatted). */
  readonly path: string
  /** syntax: does not parse; missing: nothing there; blocked: a non-container on the way. */
  readonly reason: "syntax" | "missing" | "blocked"
}> {}

const simpleField = /^[^.[\]"'\s]+$/

export const formatPath = (path: Path): string => {
  let out = "$"
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else if (simpleField.test(segment)) out += `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** Parses a path string; the error message shows where it went wrong and the accepted forms. */
export const parsePath = (text: string): Either.Either<Path, PathError> => {
  const fail = (at: number, what: string) =>
    Either.left(
      new PathError({
        message: `path ${JSON.stringify(text)} does not parse at offset ${at}: ${what}; ` +
          `write paths like $, $.a.b, $.a["x.y"] or $.a[0]`,
        path: text,
        reason: "syntax"
      })
    )
  if (!text.startsWith("$")) return fail(0, "a path starts with $")
  const segments: Array<PathSegment> = []
  let i = 1
  while (i < text.length) {
    const c = text[i]
    if (c === ".") {
      let j = i + 1
      while (j < text.length && !/[.[\]"'\s]/.test(text[j]!)) j++
      if (j === i + 1) return fail(i + 1, "expected a field name after .")
      segments.push(text.slice(i + 1, j))
      i = j
    } else if (c === "[") {
      const next = text[i + 1]
      if (next === "\"") {
        // Find the closing quote, skipping escaped characters, then let JSON decode escapes.
        let j = i + 2
        while (j < text.length && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1
        if (j >= text.length) return fail(i + 1, "unterminated string")
        let key: unknown
        try {
          key = JSON.parse(text.slice(i + 1, j + 1))
        } catch {
          return fail(i + 1, "invalid JSON string")
        }
        if (text[j + 1] !== "]") return fail(j + 1, "expected ] after the quoted field")
        segments.push(key as string)
        i = j + 2
      } else {
        const m = /^\[(0|[1-9][0-9]*)\]/.exec(text.slice(i))
        if (m === null) return fail(i + 1, "expected a quoted field or an array index inside [ ]")
        const index = Number(m[1])
        if (!Number.isSafeInteger(index)) return fail(i + 1, "array index too large")
        segments.push(index)
        i += m[0].length
      }
    } else {
      return fail(i, `unexpected ${JSON.stringify(c)}`)
    }
  }
  return Either.right(segments)
}

export type PathLike = string | Path

const toPath = (path: PathLike): Either.Either<Path, PathError> =>
  typeof path === "string" ? parsePath(path) : Either.right(path)

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** JSON-ish type name for messages. */
export const typeName = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : v === undefined ? "undefined" : typeof v

/** Reads the value at a path; a missing field or a non-container on the way fails naming the path. */
export const readPath = (ctx: unknown, path: PathLike): Either.Either<unknown, PathError> =>
  Either.flatMap(toPath(path), (segments) => {
    let current = ctx
    for (let k = 0; k < segments.length; k++) {
      const segment = segments[k]!
      const full = formatPath(segments)
      const parent = formatPath(segments.slice(0, k))
      if (typeof segment === "number") {
        if (!Array.isArray(current)) {
          return Either.left(new PathError({
            message: `cannot read ${full}: ${parent} is ${typeName(current)}, not an array`,
            path: full,
            reason: "blocked"
          }))
        }
        if (segment >= current.length) {
          return Either.left(new PathError({
            message: `cannot read ${full}: ${parent} has ${current.length} elements`,
            path: full,
            reason: "missing"
          }))
        }
        current = current[segment]
      } else {
        if (!isObject(current)) {
          return Either.left(new PathError({
            message: `cannot read ${full}: ${parent} is ${typeName(current)}, not an object`,
            path: full,
            reason: "blocked"
          }))
        }
        if (!Object.hasOwn(current, segment)) {
          return Either.left(new PathError({
            message: `cannot read ${full}: missing field ${JSON.stringify(segment)}`,
            path: full,
            reason: "missing"
          }))
        }
        current = current[segment]
      }
    }
    return Either.right(current)
  })

/** True when a value is there (null counts as there); never fails, a bad path is false. */
export const pathExists = (ctx: unknown, path: PathLike): boolean => Either.isRight(readPath(ctx, path))

/** Returns a new context with `value` at `path`; the input is left untouched. */
export const writePath = (ctx: unknown, path: PathLike, value: unknown): Either.Either<unknown, PathError> =>
  Either.flatMap(toPath(path), (segments) => {
    const go = (current: unknown, k: number): Either.Either<unknown, PathError> => {
      if (k === segments.length) return Either.right(value)
      const segment = segments[k]!
      const full = formatPath(segments)
      const parent = formatPath(segments.slice(0, k))
      if (typeof segment === "number") {
        if (!Array.isArray(current)) {
          const why = current === undefined
            ? `${parent} does not exist (arrays are not created on the way)`
            : `${parent} is ${typeName(current)}, not an array`
          return Either.left(new PathError({ message: `cannot write ${full}: ${why}`, path: full, reason: "blocked" }))
        }
        if (segment > current.length) {
          return Either.left(new PathError({
            message: `cannot write ${full}: ${parent} has ${current.length} elements (index at most ${current.length})`,
            path: full,
            reason: "blocked"
          }))
        }
        return Either.map(go(current[segment], k + 1), (child) => {
          const copy = current.slice()
          copy[segment] = child
          return copy
        })
      }
      // A missing object on the way is created.
      const container = current === undefined ? {} : current
      if (!isObject(container)) {
        return Either.left(new PathError({
          message: `cannot write ${full}: ${parent} is ${typeName(container)}, not an object`,
          path: full,
          reason: "blocked"
        }))
      }
      const existing = Object.hasOwn(container, segment) ? container[segment] : undefined
      return Either.map(go(existing, k + 1), (child) => ({ ...container, [segment]: child }))
    }
    return go(ctx, 0)
  })
