/** A tiny seeded generator of JSON values for property-style tests (no dependencies). */

export interface Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number
  readonly int: (lo: number, hi: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

/** mulberry32: small, fast and good enough to vary test inputs reproducibly. */
export const rng = (seed: number): Rng => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(0, items.length - 1)]!
  return { next, int, pick }
}

const keys = ["a", "b", "c", "x.y", "", "0", "with space", "ü"]
const strings = ["", "a", "b", "ab", "hello", "x.y", "1", "true", "null"]

export const genScalar = (r: Rng): unknown =>
  r.pick<() => unknown>([
    () => null,
    () => true,
    () => false,
    () => r.int(-5, 5),
    () => r.int(-1000, 1000) / 8,
    () => r.pick(strings)
  ])()

export const genJson = (r: Rng, depth = 3): unknown => {
  if (depth <= 0 || r.next() < 0.4) return genScalar(r)
  if (r.next() < 0.5) return Array.from({ length: r.int(0, 3) }, () => genJson(r, depth - 1))
  const out: Record<string, unknown> = {}
  for (let i = r.int(0, 3); i > 0; i--) out[r.pick(keys)] = genJson(r, depth - 1)
  return out
}

/** A deep copy with object keys in reverse order (equal under deep equality). */
export const reshuffle = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(reshuffle)
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).reverse()) out[k] = reshuffle((v as Record<string, unknown>)[k])
    return out
  }
  return v
}

/** Runs `check` over `runs` seeded cases; the failing seed shows in the assertion context. */
export const forAll = (runs: number, check: (r: Rng, seed: number) => void) => {
  for (let seed = 1; seed <= runs; seed++) check(rng(seed), seed)
}
