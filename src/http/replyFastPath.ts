/**
 * The two replies that carry nearly all traffic, `answer` and a plain `spawn_ack`, decoded
 * without the schema when they are well formed; anything else (or anything odd about these)
 * goes through `decodeOperatorFrame`, which also words every problem. The result is the same
 * as the schema's: unknown fields dropped, `spawn_ack` defaults applied (tested side by side).
 */
import { Either } from "effect"
import { decodeOperatorFrame, type FrameProblem } from "../protocol/decode.js"
import type { PendingReply, SpawnAckReply } from "../protocol/frames.js"
import { isTooDeep } from "../protocol/json.js"

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const fast = (parsed: Record<string, unknown>): PendingReply | undefined => {
  const reqId = parsed.req_id
  if (typeof reqId !== "string") return undefined
  if (parsed.type === "answer") {
    return "value" in parsed ? { type: "answer", req_id: reqId, value: parsed.value } : undefined
  }
  if (parsed.type === "spawn_ack") {
    const { ok, error, stats } = parsed
    if (ok !== undefined && typeof ok !== "boolean") return undefined
    if (error !== undefined && typeof error !== "string") return undefined
    const reply: { -readonly [K in keyof SpawnAckReply]: SpawnAckReply[K] } = {
      type: "spawn_ack",
      req_id: reqId,
      value: "value" in parsed ? parsed.value : null,
      ok: ok ?? true
    }
    if (error !== undefined) reply.error = error
    // `stats` never fails a reply: a non-object is dropped
    if (isPlainObject(stats)) reply.stats = stats
    return reply
  }
  return undefined
}

export const decodeReply = (text: string): Either.Either<PendingReply, FrameProblem> => {
  // the same depth limit as the schema path, checked before parsing
  if (isTooDeep(text)) return decodeOperatorFrame(text)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: `parsed` stays undefined, so the schema path below words the problem
  }
  const reply = isPlainObject(parsed) ? fast(parsed) : undefined
  return reply === undefined ? decodeOperatorFrame(text) : Either.right(reply)
}
