/**
 * Names chosen by a sub-agent that travel in URLs and response headers (HTTP API, data
 * path): 1–128 characters of `[A-Za-z0-9._-]`, so every stored output can be read back.
 */
import { Schema } from "effect"

export const OUTPUT_NAME_MAX = 128

export const outputNamePattern = /^[A-Za-z0-9._-]{1,128}$/

export const OutputName = Schema.String.pipe(
  Schema.filter((s) =>
    outputNamePattern.test(s) ||
    `must be 1–${OUTPUT_NAME_MAX} characters of A-Z a-z 0-9 . _ - (no spaces, no other characters); ` +
      `got ${s.length === 0 ? "an empty name" : `${s.length} characters`}`
  )
).annotations({ identifier: "OutputName", description: "1–128 characters of [A-Za-z0-9._-]" })

/** `:ref` of `GET /v1/data/:ref`: an `out_id` (which has the same alphabet) or a name. */
export const OutputRef = OutputName
