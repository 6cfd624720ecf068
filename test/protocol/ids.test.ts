import { describe, expect, it } from "@effect/vitest"
import {
  isOutId,
  isReqId,
  isRunId,
  isSessionToken,
  isSid,
  isStepId,
  isTaskId,
  isWorkerHandle,
  makeReqId,
  newOutId,
  newRunId,
  newSessionToken,
  newSid,
  newStepId,
  newTaskId,
  newWorkerHandle,
  sidOfReqId
} from "../../src/protocol/ids.js"

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("ids", () => {
  const cases = [
    ["sid", newSid, isSid, /^S-[0-9a-f]{32}$/],
    ["task id", newTaskId, isTaskId, /^T-[0-9a-f]{16}$/],
    ["run id", newRunId, isRunId, /^R-[0-9a-f]{16}$/],
    ["step id", newStepId, isStepId, /^ST-[0-9a-f]{16}$/],
    ["out id", newOutId, isOutId, /^out-[0-9a-f]{16}$/],
    ["session token", newSessionToken, isSessionToken, /^[0-9a-f]{32}$/],
    ["worker handle", newWorkerHandle, isWorkerHandle, /^wh-[a-z0-9]{12}$/]
  ] as const

  it.each(cases)("%s has the spec shape and passes its validator", (_, make, valid, shape) => {
    for (let i = 0; i < 50; i++) {
      const id = make()
      expect(id).toMatch(shape)
      expect(valid(id)).toBe(true)
    }
  })

  it("validators reject other shapes", () => {
    expect(isSid(newTaskId())).toBe(false)
    expect(isTaskId(newRunId())).toBe(false)
    expect(isRunId(newStepId())).toBe(false)
    expect(isStepId(newTaskId())).toBe(false)
    expect(isOutId(newStepId())).toBe(false)
    expect(isSessionToken(newSid())).toBe(false)
    expect(isWorkerHandle("wh-ABCDEFGHIJKL")).toBe(false)
    expect(isWorkerHandle("wh-abc")).toBe(false)
    expect(isSid(`${newSid()}0`)).toBe(false)
    expect(isSid("S-" + "A".repeat(32))).toBe(false)
    expect(isReqId(newSid())).toBe(false)
  })

  it("1,000 worker handles are distinct", () => {
    const handles = new Set(Array.from({ length: 1000 }, newWorkerHandle))
    expect(handles.size).toBe(1000)
  })

  it("1,000 sids and session tokens are distinct", () => {
    expect(new Set(Array.from({ length: 1000 }, newSid)).size).toBe(1000)
    expect(new Set(Array.from({ length: 1000 }, newSessionToken)).size).toBe(1000)
  })

  it.each([
    ["ask", "ask"],
    ["hook_before", "hb"],
    ["hook_after", "ha"],
    ["spawn", "spawn"]
  ] as const)("req_id for %s embeds the sid, the tag %s and a uuid v4", (kind, tag) => {
    const sid = newSid()
    const reqId = makeReqId(sid, kind)
    const prefix = `${sid}-${tag}-`
    expect(reqId.startsWith(prefix)).toBe(true)
    expect(reqId.slice(prefix.length)).toMatch(uuidV4)
    expect(isReqId(reqId)).toBe(true)
    expect(sidOfReqId(reqId)).toBe(sid)
  })

  it("req_ids of one sid and kind are distinct", () => {
    const sid = newSid()
    expect(new Set(Array.from({ length: 1000 }, () => makeReqId(sid, "ask"))).size).toBe(1000)
  })

  it("sidOfReqId is undefined for anything that is not a req_id", () => {
    const sid = newSid()
    expect(sidOfReqId(sid)).toBeUndefined()
    expect(sidOfReqId("")).toBeUndefined()
    expect(sidOfReqId(`${sid}-other-${crypto.randomUUID()}`)).toBeUndefined()
    expect(sidOfReqId(`${sid}-ask-not-a-uuid`)).toBeUndefined()
    // uuid v1 (version digit 1) is not a v4
    expect(sidOfReqId(`${sid}-ask-6f1c2b1e-8a4d-1c3e-9b2a-1d2e3f4a5b6c`)).toBeUndefined()
    expect(isReqId(`${sid}-ask-6f1c2b1e-8a4d-1c3e-9b2a-1d2e3f4a5b6c`)).toBe(false)
  })
})
