/**
 * `system_prompt` templates (docs/blueprints.md, agents): `{{ name }}` is that field of an object
 * input, `{{ input }}` the whole input. Strings are inserted as they are, other values as JSON.
 */
import { Either } from "effect"

const placeholder = /\{\{\s*([^{}\s]+)\s*\}\}/g

const asText = (v: unknown): string => typeof v === "string" ? v : JSON.stringify(v ?? null)

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Left = the first unknown placeholder name. */
export const renderTemplate = (template: string, input: unknown): Either.Either<string, string> => {
  let unknownName: string | undefined
  const out = template.replace(placeholder, (whole, name: string) => {
    if (name === "input") return asText(input)
    if (isObject(input) && Object.hasOwn(input, name)) return asText(input[name])
    unknownName ??= name
    return whole
  })
  return unknownName === undefined ? Either.right(out) : Either.left(unknownName)
}
