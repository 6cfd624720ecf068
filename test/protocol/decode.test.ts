import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { binaryFrameProblem, decodeOperatorFrame, FRAME_TYPES, type FrameProblem } from "../../src/protocol/decode.js"
import type { PendingReply } from "../../src/protocol/frames.js"

const REQ = "S-0123456789abcdef0123456789abcdef-ask-6f1c2b1e-8a4d-4c3e-9b2a-1d2e3f4a5b6c"

const ok = (frame: unknown): PendingReply => {
  const result = decodeOperatorFrame(typeof frame === "string" ? frame : JSON.stringify(frame))
  if (Either.isLeft(result)) throw new Error(`expected a reply, got problem: ${result.left.message}`)
  return result.right
}

const bad = (frame: unknown): FrameProblem => {
  const result = decodeOperatorFrame(typeof frame === "string" ? frame : JSON.stringify(frame))
  if (Either.isRight(result)) throw new Error(`expected a problem, got ${JSON.stringify(result.right)}`)
  expect(result.left.code).toBe("bad_frame")
  expect(result.left.message).not.toMatch(/\n/)
  return result.left
}

describe("decodeOperatorFrame: replies", () => {
  it("accepts exactly the four operator frame types", () => {
    expect([...FRAME_TYPES].sort()).toEqual(["answer", "hook_ack", "spawn_ack", "spawn_halt"])
  })

  it("answer carries its value, null and nested JSON included", () => {
    expect(ok({ type: "answer", req_id: REQ, value: null })).toStrictEqual({ type: "answer", req_id: REQ, value: null })
    expect(ok({ type: "answer", req_id: REQ, value: { a: [1, "x", false] } })).toStrictEqual({
      type: "answer",
      req_id: REQ,
      value: { a: [1, "x", false] }
    })
    expect(ok({ type: "answer", req_id: REQ, value: 0 })).toStrictEqual({ type: "answer", req_id: REQ, value: 0 })
  })

  it("hook_ack keeps ok and an optional reason", () => {
    expect(ok({ type: "hook_ack", req_id: REQ, ok: true })).toStrictEqual({ type: "hook_ack", req_id: REQ, ok: true })
    expect(ok({ type: "hook_ack", req_id: REQ, ok: false, reason: "not today" })).toStrictEqual({
      type: "hook_ack",
      req_id: REQ,
      ok: false,
      reason: "not today"
    })
  })

  it("spawn_ack defaults value to null and ok to true", () => {
    expect(ok({ type: "spawn_ack", req_id: REQ })).toStrictEqual({ type: "spawn_ack", req_id: REQ, value: null, ok: true })
  })

  it("spawn_ack keeps explicit value, ok and error", () => {
    expect(ok({ type: "spawn_ack", req_id: REQ, value: "v", ok: false, error: "boom" })).toStrictEqual({
      type: "spawn_ack",
      req_id: REQ,
      value: "v",
      ok: false,
      error: "boom"
    })
  })

  it("spawn_halt defaults value to null and keeps reason", () => {
    expect(ok({ type: "spawn_halt", req_id: REQ })).toStrictEqual({ type: "spawn_halt", req_id: REQ, value: null })
    expect(ok({ type: "spawn_halt", req_id: REQ, value: [1], reason: "stop" })).toStrictEqual({
      type: "spawn_halt",
      req_id: REQ,
      value: [1],
      reason: "stop"
    })
  })

  it("ignores and drops unknown extra fields", () => {
    expect(ok({ type: "answer", req_id: REQ, value: 1, extra: "x", redelivery: true })).toStrictEqual({
      type: "answer",
      req_id: REQ,
      value: 1
    })
    expect(ok({ type: "hook_ack", req_id: REQ, ok: true, note: { deep: 1 } })).toStrictEqual({
      type: "hook_ack",
      req_id: REQ,
      ok: true
    })
  })

  it("keeps stats on spawn_ack when it is an object", () => {
    const reply = ok({ type: "spawn_ack", req_id: REQ, stats: { tokens: 12, model: "m" } })
    expect(reply).toStrictEqual({ type: "spawn_ack", req_id: REQ, value: null, ok: true, stats: { tokens: 12, model: "m" } })
  })

  it.each([["array", [1, 2]], ["string", "fast"], ["number", 3], ["null", null], ["boolean", true]])(
    "drops stats silently when it is %s",
    (_, stats) => {
      const reply = ok({ type: "spawn_ack", req_id: REQ, ok: false, stats })
      expect(reply).toStrictEqual({ type: "spawn_ack", req_id: REQ, value: null, ok: false })
      expect("stats" in reply).toBe(false)
    }
  )
})

describe("decodeOperatorFrame: problems", () => {
  it("not JSON", () => {
    const p = bad("{not json")
    expect(p.message).toMatch(/^frame is not valid JSON: /)
    expect(p.req_id).toBeUndefined()
  })

  it("empty text is not JSON", () => {
    expect(bad("").message).toMatch(/^frame is not valid JSON: /)
  })

  it.each([
    ["an array", "[1,2]"],
    ["a string", "\"answer\""],
    ["null", "null"],
    ["a number", "42"],
    ["a boolean", "true"]
  ])("not an object: %s", (what, text) => {
    const p = bad(text)
    expect(p.message).toContain("must be a JSON object")
    expect(p.message).toContain(`got ${what}`)
    expect(p.req_id).toBeUndefined()
  })

  it("missing type names the field and lists accepted types", () => {
    const p = bad({ req_id: REQ, value: 1 })
    expect(p.message).toContain("missing field `type`")
    for (const t of FRAME_TYPES) expect(p.message).toContain(t)
    expect(p.req_id).toBe(REQ)
  })

  it("non-string type", () => {
    const p = bad({ type: 7, req_id: REQ })
    expect(p.message).toContain("field `type` must be a string")
    expect(p.req_id).toBe(REQ)
  })

  it.each(["ask", "spawn", "hello", "ANSWER"])("unknown type %s lists the accepted types", (type) => {
    const p = bad({ type, req_id: REQ, value: 1 })
    expect(p.message).toContain(`unknown frame type "${type}"`)
    expect(p.message).toContain("accepted types: answer, hook_ack, spawn_ack, spawn_halt")
    expect(p.req_id).toBe(REQ)
  })

  it.each(FRAME_TYPES.map((t) => [t]))("%s without req_id", (type) => {
    const frame: Record<string, unknown> = { type, value: 1, ok: true }
    const p = bad(frame)
    expect(p.message).toContain("missing field `req_id`")
    expect(p.message).toContain(type)
    expect(p.req_id).toBeUndefined()
  })

  it("answer without value is an error even though null is allowed", () => {
    const p = bad({ type: "answer", req_id: REQ })
    expect(p.message).toContain("missing field `value`")
    expect(p.req_id).toBe(REQ)
  })

  it("hook_ack without ok", () => {
    const p = bad({ type: "hook_ack", req_id: REQ, reason: "r" })
    expect(p.message).toContain("missing field `ok`")
    expect(p.req_id).toBe(REQ)
  })

  it.each([
    ["answer", { value: 1, req_id: 5 }, "req_id", "a string"],
    ["hook_ack", { req_id: REQ, ok: "yes" }, "ok", "a boolean"],
    ["hook_ack", { req_id: REQ, ok: true, reason: 3 }, "reason", "a string"],
    ["spawn_ack", { req_id: REQ, ok: 1 }, "ok", "a boolean"],
    ["spawn_ack", { req_id: REQ, ok: null }, "ok", "a boolean"],
    ["spawn_ack", { req_id: REQ, error: { m: "x" } }, "error", "a string"],
    ["spawn_halt", { req_id: REQ, reason: false }, "reason", "a string"],
    ["spawn_halt", { req_id: [REQ] }, "req_id", "a string"]
  ] as const)("%s with a wrong %s type", (type, fields, field, expected) => {
    const p = bad({ type, ...fields })
    expect(p.message).toContain(`field \`${field}\` must be ${expected}`)
    expect(p.message).toContain(type)
    if (typeof fields.req_id === "string") expect(p.req_id).toBe(REQ)
    else expect(p.req_id).toBeUndefined()
  })

  it("reports every bad field of one frame", () => {
    const p = bad({ type: "hook_ack", req_id: REQ, ok: "yes", reason: null })
    expect(p.message).toContain("field `ok` must be a boolean, got a string")
    expect(p.message).toContain("field `reason` must be a string, got null")
    expect(p.req_id).toBe(REQ)
  })

  it("req_id is carried only when it is a string", () => {
    expect(bad({ type: "nope", req_id: REQ }).req_id).toBe(REQ)
    expect("req_id" in bad({ type: "nope", req_id: 12 })).toBe(false)
    expect("req_id" in bad({ type: "nope" })).toBe(false)
  })

  it("long garbage stays on one short line", () => {
    const p = bad(`{"type":"answer",\n"req_id":\n${"x".repeat(5000)}`)
    expect(p.message).toMatch(/^frame is not valid JSON: /)
    expect(p.message.length).toBeLessThan(400)
  })

  it("binary frames get a bad_frame problem", () => {
    expect(binaryFrameProblem.code).toBe("bad_frame")
    expect(binaryFrameProblem.message).toMatch(/binary/)
    expect(binaryFrameProblem.message).toMatch(/text frame/)
    expect(binaryFrameProblem.req_id).toBeUndefined()
  })
})
