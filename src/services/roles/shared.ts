import type { RequestOptions } from "../OperatorSession.js"

/** Request options from a role input, leaving absent fields absent (exactOptionalPropertyTypes). */
export const requestOptions = (input: { readonly runId?: string; readonly reqId?: string }): RequestOptions => ({
  ...(input.runId === undefined ? {} : { runId: input.runId }),
  ...(input.reqId === undefined ? {} : { reqId: input.reqId })
})
