/**
 * How a worker's raw result becomes a value (docs/http.md, worker submit; docs/blueprints.md,
 * subprocess stdout): a JSON object or array, also inside ONE leading markdown code fence,
 * becomes that JSON; anything else stays a string with trailing whitespace trimmed.
 */

import { isTooDeep } from "../protocol/json.js"

const fenced = /^\s*```[^\n`]*\n([\s\S]*?)\n?```/

const parseContainer = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  const t = text.trim()
  if (!(t.startsWith("{") || t.startsWith("["))) return { ok: false }
  // JSON past the depth limit stays text, so every stored value can be encoded again
  if (isTooDeep(t)) return { ok: false }
  try {
    return { ok: true, value: JSON.parse(t) }
  } catch {
    return { ok: false }
  }
}

export const parseResultText = (text: string): unknown => {
  const whole = parseContainer(text)
  if (whole.ok) return whole.value
  const fence = fenced.exec(text)
  if (fence !== null) {
    const inner = parseContainer(fence[1] ?? "")
    if (inner.ok) return inner.value
  }
  return text.trimEnd()
}

const decoder = new TextDecoder()

export const parseResultBody = (body: string | Uint8Array): unknown =>
  parseResultText(typeof body === "string" ? body : decoder.decode(body))

/** The text a step input becomes on a subprocess's stdin: strings as they are, the rest as JSON. */
export const inputAsText = (input: unknown): string =>
  typeof input === "string" ? input : JSON.stringify(input ?? null)
