/** The fast path for `answer` / `spawn_ack` gives exactly what the schema decoder gives. */
import { describe, expect, it } from "vitest"
import { decodeReply } from "../../src/http/replyFastPath.js"
import { decodeOperatorFrame } from "../../src/protocol/decode.js"

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
  `{not json`,
  `{"__proto__":{"type":"answer"},"req_id":"r6","value":1}`,
  `{"type":"answer","req_id":"r7","value":${"[".repeat(100)}${"]".repeat(100)}}`
]

describe("decodeReply", () => {
  it.each(cases)("matches the schema decoder on %s", (text) => {
    expect(decodeReply(text)).toStrictEqual(decodeOperatorFrame(text))
  })
})
