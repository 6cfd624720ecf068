/**
 * What a tool call can fail with. Every failure reaches the agent as an MCP tool error whose
 * text says what is wrong and what to do; `reason` lets tests and callers tell them apart.
 */
import { Data } from "effect"
import type { ServerUnreachable, UnexpectedAnswer } from "../client/errors.js"
import { type ApiError, isApiError } from "../http/errors.js"

export type ToolErrorReason =
  | "bad_arguments" // the arguments do not match the tool's input schema
  | "unknown_sid" // not a session this adapter joined (or it was left)
  | "session_ended" // the server tore the session down, or it expired
  | "unknown_request" // a req_id pending_wait never handed out
  | "already_answered" // the request has had its reply
  | "withdrawn" // the server withdrew the request (run cancelled, deadline, seat taken over)
  | "wrong_kind" // a reply kind that does not fit the request, or fields that do not
  | "unreachable" // the server does not answer
  | "refused" // the server refused the call (its message says why)
  | "join_failed" // the session could not be connected; it was deleted again

export class ToolError extends Data.TaggedError("ToolError")<{
  readonly reason: ToolErrorReason
  readonly message: string
}> {}

export const toolError = (reason: ToolErrorReason, message: string) => new ToolError({ reason, message })

/** A failed server call as a tool error: the server's own message (it says what to do), one line. */
export const fromCall = (error: ApiError | ServerUnreachable | UnexpectedAnswer | ToolError): ToolError => {
  if (error._tag === "ToolError") return error
  if (error._tag === "ServerUnreachable") return toolError("unreachable", error.message)
  if (error._tag === "UnexpectedAnswer") return toolError("refused", error.message)
  if (isApiError(error)) {
    const details = Array.isArray(error.details)
      ? (error.details as ReadonlyArray<{ path?: unknown; message?: unknown }>)
        .slice(0, 20)
        .map((d) => `${typeof d.path === "string" && d.path !== "" ? `${d.path}: ` : ""}${String(d.message)}`)
      : []
    return toolError("refused", [`${error.code}: ${error.message}`, ...details].join("\n  "))
  }
  return toolError("refused", String(error))
}
