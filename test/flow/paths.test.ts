import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import {
  formatPath,
  type Path,
  parsePath,
  pathExists,
  readPath,
  writePath
} from "../../src/services/flow/paths.js"
import { forAll, genJson, type Rng } from "./gen.js"

const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got ${JSON.stringify(e.left)}`)
  return e.right
}
const left = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error(`expected Left, got ${JSON.stringify(e.right)}`)
  return e.left
}

const fieldNames = ["a", "b", "x.y", "", "with space", "quo\"te", "[br]", "0", "ü", "$", "a'b", "back\\slash"]
const genPath = (r: Rng): Path =>
  Array.from({ length: r.int(0, 4) }, () => (r.next() < 0.25 ? r.int(0, 12) : r.pick(fieldNames)))

describe("paths: parse", () => {
  it("parses the spec forms", () => {
    expect(right(parsePath("$"))).toEqual([])
    expect(right(parsePath("$.a.b"))).toEqual(["a", "b"])
    expect(right(parsePath("$.a[\"x.y\"]"))).toEqual(["a", "x.y"])
    expect(right(parsePath("$.a[0].b[12]"))).toEqual(["a", 0, "b", 12])
    expect(right(parsePath("$[\"\"]"))).toEqual([""])
    expect(right(parsePath("$.a[\"q\\\"uote\"]"))).toEqual(["a", "q\"uote"])
    expect(right(parsePath("$.kebab-case_1"))).toEqual(["kebab-case_1"])
  })

  it("refuses malformed paths, saying where", () => {
    for (const bad of ["", "a.b", "$.", "$..a", "$.a.", "$[", "$[x]", "$[01]", "$[-1]", "$[\"a\"", "$[\"a\"x]", "$ .a", "$.a b"]) {
      const e = left(parsePath(bad))
      expect(e.reason).toBe("syntax")
      expect(e.message).toContain(JSON.stringify(bad))
    }
  })

  it("format then parse is the identity (random paths)", () =>
    forAll(500, (r) => {
      const p = genPath(r)
      expect(right(parsePath(formatPath(p)))).toEqual(p)
    }))

  it("parse then format is canonical: parsing the result again gives the same text", () => {
    for (const text of ["$", "$.a.b", "$.a[\"x.y\"][3]", "$[\"a\"]"]) {
      const once = formatPath(right(parsePath(text)))
      expect(formatPath(right(parsePath(once)))).toBe(once)
    }
    expect(formatPath(right(parsePath("$[\"a\"]")))).toBe("$.a")
  })
})

describe("paths: read, write, exists", () => {
  const ctx = { a: { b: 1, "x.y": [10, 20] }, s: "str", n: null }

  it("reads fields, quoted fields and indexes", () => {
    expect(right(readPath(ctx, "$"))).toBe(ctx)
    expect(right(readPath(ctx, "$.a.b"))).toBe(1)
    expect(right(readPath(ctx, "$.a[\"x.y\"][1]"))).toBe(20)
    expect(right(readPath(ctx, "$.n"))).toBe(null)
  })

  it("a missing field fails naming the path", () => {
    const e = left(readPath(ctx, "$.a.c"))
    expect(e.reason).toBe("missing")
    expect(e.message).toContain("$.a.c")
    expect(left(readPath(ctx, "$.a[\"x.y\"][2]")).message).toContain("$.a[\"x.y\"][2]")
    expect(left(readPath(ctx, "$.s.len")).message).toContain("$.s is string, not an object")
    expect(left(readPath(ctx, "$.a[0]")).message).toContain("not an array")
  })

  it("exists: true for present (even null), false for missing, never fails", () => {
    expect(pathExists(ctx, "$.a.b")).toBe(true)
    expect(pathExists(ctx, "$.n")).toBe(true)
    expect(pathExists(ctx, "$.a.c")).toBe(false)
    expect(pathExists(ctx, "$.s.x")).toBe(false)
    expect(pathExists(ctx, "not a path")).toBe(false)
  })

  it("write creates missing objects on the way and is immutable", () => {
    const before = structuredClone(ctx)
    const out = right(writePath(ctx, "$.p.q[\"r.s\"]", 5))
    expect(out).toEqual({ ...ctx, p: { q: { "r.s": 5 } } })
    expect(ctx).toEqual(before)
    const replaced = right(writePath(ctx, "$.a[\"x.y\"][0]", "z")) as typeof ctx
    expect(replaced.a["x.y"]).toEqual(["z", 20])
    expect(ctx.a["x.y"]).toEqual([10, 20])
    expect(right(writePath(ctx, "$.a[\"x.y\"][2]", 30))).toMatchObject({ a: { "x.y": [10, 20, 30] } })
    expect(right(writePath(ctx, "$", 7))).toBe(7)
    expect(right(writePath(undefined, "$.a", 1))).toEqual({ a: 1 })
  })

  it("writing through a non-object fails naming the path", () => {
    for (const [at, why] of [
      ["$.s.x", "$.s is string, not an object"],
      ["$.n.x", "$.n is null, not an object"],
      ["$.a.b.c", "$.a.b is number, not an object"],
      ["$.a[\"x.y\"].k", "is array, not an object"],
      ["$.a.b[0]", "not an array"],
      ["$.zz[0]", "does not exist"],
      ["$.a[\"x.y\"][5]", "has 2 elements"]
    ] as const) {
      const e = left(writePath(ctx, at, 1))
      expect(e.reason).toBe("blocked")
      expect(e.message).toContain(`cannot write ${formatPath(right(parsePath(at)))}`)
      expect(e.message).toContain(why)
    }
  })

  it("write then read gives the value back; other paths are unchanged (random)", () => {
    const keys = ["a", "b", "x.y"]
    // an object tree over `keys`, so that most random writes land instead of being blocked
    const tree = (r: Rng, depth: number): Record<string, unknown> =>
      Object.fromEntries(
        keys.filter(() => r.int(0, 3) > 0).map((k) => [k, depth > 0 && r.int(0, 2) > 0 ? tree(r, depth - 1) : genJson(r, 1)])
      )
    const pathsOf = (v: unknown, prefix: Path): Array<Path> =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.entries(v).flatMap(([k, child]) => [[...prefix, k], ...pathsOf(child, [...prefix, k])])
        : []
    const isPrefix = (a: Path, b: Path) => a.length <= b.length && a.every((k, i) => b[i] === k)
    let landed = 0
    let othersChecked = 0
    forAll(300, (r) => {
      const base = { root: tree(r, 3) }
      const p: Path = ["root", ...Array.from({ length: r.int(0, 3) }, () => r.pick(keys))]
      const value = genJson(r)
      const before = structuredClone(base)
      const written = writePath(base, p, value)
      if (Either.isLeft(written)) {
        expect(written.left.reason).toBe("blocked")
        return
      }
      landed++
      expect(right(readPath(written.right, p))).toEqual(value)
      expect(right(readPath(written.right, formatPath(p)))).toEqual(value)
      // Writing what was read is a no-op.
      expect(right(writePath(base, p, right(readPath(written.right, p))))).toEqual(written.right)
      // Every path of the base that is neither above nor below the written one reads as before.
      for (const q of pathsOf(base, [])) {
        if (isPrefix(q, p) || isPrefix(p, q)) continue
        othersChecked++
        expect(readPath(written.right, q), formatPath(q)).toEqual(readPath(base, q))
      }
      expect(base, "the input is not changed").toEqual(before)
    })
    // the property is about writes that land: most must
    expect(landed).toBeGreaterThan(150)
    expect(othersChecked).toBeGreaterThan(300)
  })
})
