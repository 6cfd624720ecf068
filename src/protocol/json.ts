/**
 * Limits every JSON input shares (HTTP API: bodies; docs/operators.md: frames): nothing
 * nested deeper than `MAX_JSON_DEPTH` is ever accepted, so everything stored can be read
 * back and encoded again, and no recursive walk over stored values can overflow the stack.
 */

/** Containers (objects and arrays) that may enclose one another; the 65th level is refused. */
export const MAX_JSON_DEPTH = 64

/**
 * The deepest container nesting of a JSON text, counted without parsing it (a linear scan
 * that skips strings), stopping as soon as `max` is passed. A text that is not JSON still
 * gets a number; the parser reports it afterwards.
 */
export const jsonTextDepth = (text: string, max = MAX_JSON_DEPTH): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
      continue
    }
    if (c === 34) inString = true
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > max) return deepest
      }
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return deepest
}

/** True when the text nests containers deeper than the limit. */
export const isTooDeep = (text: string, max = MAX_JSON_DEPTH): boolean => jsonTextDepth(text, max) > max

/** The same limit for an already parsed value (iterative: safe at any depth). */
export const valueDepthExceeds = (value: unknown, max = MAX_JSON_DEPTH): boolean => {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== "object" || v === null) continue
    if (d + 1 > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1])
  }
  return false
}

export const tooDeepMessage = (what: string) =>
  `${what} nests JSON deeper than ${MAX_JSON_DEPTH} levels; flatten it (at most ${MAX_JSON_DEPTH} nested objects/arrays)`

/** Cut quoted input so no error message grows with the input. */
export const QUOTE_MAX = 200

export const cut = (s: string, max = QUOTE_MAX): string => (s.length > max ? `${s.slice(0, max)}…` : s)
