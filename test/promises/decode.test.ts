/**
 * Refusing unknown frame types, at the decoder: a frame complete in every other field is
 * refused for its type alone, quoted exactly as sent, with the accepted types listed.
 * (The end-to-end side is in socket.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { decodeOperatorFrame } from "../../src/protocol/decode.js"

const REQ = "S-0123456789abcdef0123456789abcdef-spawn-00000000-0000-4000-8000-000000000000"
const ACCEPTED = "accepted types: answer, hook_ack, spawn_ack, spawn_halt"

const decoded = (frame: Record<string, unknown>) => Either.getOrUndefined(Either.flip(decodeOperatorFrame(JSON.stringify(frame))))

describe("unknown frame types", () => {
  it.each([
    ["hello", "\"hello\""],
    ["spawn_ack ", "\"spawn_ack \""],
    [" answer", "\" answer\""],
    ["hook_ack\n", "\"hook_ack\\n\""],
    ["Spawn_Halt", "\"Spawn_Halt\""],
    ["x".repeat(100), `"${"x".repeat(60)}…"`]
  ])("type %j with every other field well-formed is refused for its type", (type, quoted) => {
    for (const rest of [{ value: 1 }, { value: 1, ok: true }, { ok: true, reason: "r" }]) {
      expect(decoded({ type, req_id: REQ, ...rest })).toEqual({
        code: "bad_frame",
        req_id: REQ,
        message: `unknown frame type ${quoted}; ${ACCEPTED}`
      })
    }
  })

  it("every accepted type decodes, so the refusal above is about the type alone", () => {
    for (const type of ["answer", "hook_ack", "spawn_ack", "spawn_halt"]) {
      expect(Either.isRight(decodeOperatorFrame(JSON.stringify({ type, req_id: REQ, value: 1, ok: true }))), type).toBe(true)
    }
  })
})
