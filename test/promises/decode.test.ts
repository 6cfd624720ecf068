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
    ["x".repeat(60), `"${"x".repeat(60)}"`],
    ["x".repeat(61), `"${"x".repeat(60)}…"`],
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

/** Survivors of the first mutation run of decode.ts: the exact wording of other problems. */
describe("bad_frame messages say exactly what is wrong", () => {
  const cases: Array<[string, string, string]> = [
    ["a field of the wrong kind names what it got", JSON.stringify({ type: "hook_ack", req_id: REQ, ok: {} }),
      "bad `hook_ack` frame: field `ok` must be a boolean, got an object"],
    ["a missing field with a hint gives the hint", JSON.stringify({ type: "answer", req_id: REQ }),
      "bad `answer` frame: missing field `value` (any JSON, null allowed)"],
    ["a missing ok gives its hint", JSON.stringify({ type: "hook_ack", req_id: REQ }),
      "bad `hook_ack` frame: missing field `ok` (a boolean)"],
    ["several problems are listed, separated by semicolons", JSON.stringify({ type: "hook_ack", req_id: REQ, ok: 1, reason: 2 }),
      "bad `hook_ack` frame: field `ok` must be a boolean, got a number; field `reason` must be a string, got a number"],
    ["a non-object frame names what it is", "[1]",
      "frame must be a JSON object, got an array; send one JSON object per text frame"],
    ["a non-string type names what it is", JSON.stringify({ type: { a: 1 }, req_id: REQ }),
      "field `type` must be a string, got an object; use one of: answer, hook_ack, spawn_ack, spawn_halt"]
  ]
  it.each(cases)("%s", (_what, text, message) => {
    expect(Either.getOrUndefined(Either.flip(decodeOperatorFrame(text)))?.message).toBe(message)
  })

  it("invalid JSON quotes the parser's reason as it is", () => {
    for (const text of ["{not json", "", "[1,", "{\"type\":\"answer\"} x"]) {
      let reason = ""
      try {
        JSON.parse(text)
      } catch (e) {
        reason = (e as Error).message
      }
      expect(Either.getOrUndefined(Either.flip(decodeOperatorFrame(text)))).toEqual({
        code: "bad_frame",
        message: `frame is not valid JSON: ${reason}; send one JSON object per text frame`
      })
    }
  })

  it("a frame nested deeper than 64 levels is refused before it is parsed, whatever its type", () => {
    const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`
    // the frame object is level 1: a value of depth 63 is the deepest accepted
    expect(Either.isRight(decodeOperatorFrame(`{"type":"answer","req_id":"${REQ}","value":${nested(63)}}`))).toBe(true)
    for (const text of [
      `{"type":"answer","req_id":"${REQ}","value":${nested(64)}}`,
      `{"type":"answer","req_id":"${REQ}","value":${nested(500)}}`,
      nested(65)
    ]) {
      expect(Either.getOrUndefined(Either.flip(decodeOperatorFrame(text)))).toEqual({
        code: "bad_frame",
        message: "frame nests JSON deeper than 64 levels; send at most 64 nested objects/arrays"
      })
    }
  })

  it("invalid JSON is reported on one line, whitespace collapsed", () => {
    // Node quotes the start of the text in its message, newlines included
    const problem = Either.getOrUndefined(Either.flip(decodeOperatorFrame(`nope\n\n   ${"y".repeat(400)}`)))
    expect(problem?.req_id).toBeUndefined()
    const message = problem?.message ?? ""
    expect(message).toMatch(/^frame is not valid JSON: \S.*; send one JSON object per text frame$/)
    expect(message).toContain("nope yy")
    expect(message).not.toMatch(/\s{2,}|\n/)
  })
})
