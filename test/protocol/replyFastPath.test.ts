/** The fast path for `answer` / `spawn_ack` gives exactly what the schema decoder gives. */
import { Either } from "effect"
import { beforeEach, describe, expect, it, vi } from "vitest"
import { decodeReply } from "../../src/http/replyFastPath.js"
import { decodeOperatorFrame } from "../../src/protocol/decode.js"

// The schema decoder, watched (it still decodes): the fast path must not call it for the
// replies it exists for, and must hand it everything else.
vi.mock("../../src/protocol/decode.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/protocol/decode.js")>()
  return { ...original, decodeOperatorFrame: vi.fn(original.decodeOperatorFrame) }
})

const cases: ReadonlyArray<string> = [
  `{"type":"answer","req_id":"r1","value":{"a":[1,2]}}`,
  `{"type":"answer","req_id":"r1","value":null,"extra":1}`,
  `{"type":"answer","req_id":"r1"}`,
  `{"type":"answer","req_id":7,"value":1}`,
  `{"type":"answer","value":1}`,
  `{"type":"spawn_ack","req_id":"r2"}`,
  `{"type":"spawn_ack","req_id":"r2","ok":false,"value":"v","error":"boom","stats":{"tokens":3},"x":1}`,
  `{"type":"spawn_ack","req_id":"r2","stats":[1,2]}`,
  `{"type":"spawn_ack","req_id":"r2","stats":"no"}`,
  `{"type":"spawn_ack","req_id":"r2","ok":"yes"}`,
  `{"type":"spawn_ack","req_id":"r2","error":5}`,
  `{"type":"spawn_ack","req_id":"r2","ok":null}`,
  `{"type":"hook_ack","req_id":"r3","ok":true}`,
  `{"type":"spawn_halt","req_id":"r4"}`,
  `{"type":"nope","req_id":"r5"}`,
  `[1,2]`,
  `"answer"`,
  `null`,
  `{"type":"spawn_ack","req_id":"r2","stats":null}`,
  `{not json`,
  `{"__proto__":{"type":"answer"},"req_id":"r6","value":1}`,
  `{"type":"answer","req_id":"r7","value":${"[".repeat(100)}${"]".repeat(100)}}`
]

describe("decodeReply", () => {
  it.each(cases)("matches the schema decoder on %s", (text) => {
    expect(decodeReply(text)).toStrictEqual(decodeOperatorFrame(text))
  })
})

describe("decodeReply takes the fast path", () => {
  beforeEach(() => {
    vi.mocked(decodeOperatorFrame).mockClear()
  })

  it.each([
    `{"type":"answer","req_id":"r1","value":{"a":[1,2]}}`,
    `{"type":"answer","req_id":"r1","value":null,"extra":1}`,
    `{"type":"spawn_ack","req_id":"r2"}`,
    `{"type":"spawn_ack","req_id":"r2","ok":false,"value":"v","error":"boom","stats":{"tokens":3}}`,
    `{"type":"spawn_ack","req_id":"r2","stats":[1,2]}`
  ])("for the well-formed reply %s, without the schema decoder", (text) => {
    expect(Either.isRight(decodeReply(text))).toBe(true)
    expect(decodeOperatorFrame).not.toHaveBeenCalled()
  })

  it.each([
    `{"type":"hook_ack","req_id":"r3","ok":true}`,
    `{"type":"spawn_halt","req_id":"r4"}`,
    `{"type":"answer","req_id":"r1"}`,
    `{"type":"spawn_ack","req_id":"r2","ok":"yes"}`,
    `{"type":"spawn_ack","req_id":"r2","error":5}`,
    `[1,2]`,
    `{not json`,
    `{"type":"answer","req_id":"r7","value":${"[".repeat(100)}${"]".repeat(100)}}`
  ])("and leaves %s to the schema decoder", (text) => {
    decodeReply(text)
    expect(decodeOperatorFrame).toHaveBeenCalledTimes(1)
  })
})
