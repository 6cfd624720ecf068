/** The run page's flow model without a browser: placing steps on nodes, open requests, what a step waits on. */
import { describe, expect, it } from "vitest"
import type { FlowNode } from "../../src/protocol/blueprint.js"
import type { Step } from "../../src/web/app/api.js"
import { openRequests, placeSteps, stepNodes, waitsOn } from "../../src/web/app/flow.js"

const step = (ref: string): FlowNode => ({ kind: "step", ref, in: { op: "path", at: "$" }, out: `$.${ref}` })
let clock = 0
const ran = (ref: string, attempt: number, status = "passed"): Step => ({
  step_id: `ST-${ref}-${attempt}-${++clock}`,
  ref,
  attempt,
  status,
  started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, clock)).toISOString()
})
const ids = (m: Map<string, Array<Step>>) => Object.fromEntries([...m].map(([k, v]) => [k, v.map((s) => `${s.ref}#${s.attempt}`)]))

describe("flow model", () => {
  it("lists step nodes in document order with their locations", () => {
    const flow: FlowNode = {
      kind: "seq",
      children: [
        step("a"),
        { kind: "branch", cond: { op: "lit", value: true }, then: step("b"), else: step("c") },
        { kind: "try", body: step("d"), catch: step("e") },
        { kind: "assign", at: "$.x", value: { op: "lit", value: 1 } }
      ]
    }
    expect(stepNodes(flow)).toEqual([
      { path: "$.flow.children[0]", ref: "a", repeats: false },
      { path: "$.flow.children[1].then", ref: "b", repeats: false },
      { path: "$.flow.children[1].else", ref: "c", repeats: false },
      { path: "$.flow.children[2].body", ref: "d", repeats: false },
      { path: "$.flow.children[2].catch", ref: "e", repeats: false }
    ])
    const loop: FlowNode = { kind: "loop", counter: "$.n", cond: { op: "lit", value: true }, max: 2, body: { kind: "seq", children: [step("a")] } }
    expect(stepNodes(loop)).toEqual([{ path: "$.flow.body.children[0]", ref: "a", repeats: true }])
  })

  it("places a ref used twice in a sequence on each node in turn", () => {
    const flow: FlowNode = { kind: "seq", children: [step("a"), step("b"), step("a")] }
    expect(ids(placeSteps(flow, [ran("a", 1), ran("b", 1), ran("a", 1)]))).toEqual({
      "$.flow.children[0]": ["a#1"],
      "$.flow.children[1]": ["b#1"],
      "$.flow.children[2]": ["a#1"]
    })
  })

  it("places loop rounds (attempt = round) on the nodes of the body", () => {
    const body: FlowNode = { kind: "seq", children: [step("code"), step("code")] }
    const flow: FlowNode = { kind: "loop", counter: "$.n", cond: { op: "lit", value: true }, max: 2, body }
    const steps = [ran("code", 1), ran("code", 1), ran("code", 2), ran("code", 2, "running")]
    expect(ids(placeSteps(flow, steps))).toEqual({
      "$.flow.body.children[0]": ["code#1", "code#2"],
      "$.flow.body.children[1]": ["code#1", "code#2"]
    })
  })

  it("places the rounds of a loop on the loop's node, not on an earlier node of the same ref", () => {
    const flow: FlowNode = {
      kind: "seq",
      children: [
        step("d"),
        { kind: "loop", counter: "$.n", cond: { op: "lit", value: true }, max: 3, body: step("d") },
        { kind: "try", body: step("d"), catch: step("e") }
      ]
    }
    const steps = [ran("d", 1), ran("d", 1), ran("d", 2), ran("d", 3), ran("d", 1)]
    expect(ids(placeSteps(flow, steps))).toEqual({
      "$.flow.children[0]": ["d#1"],
      "$.flow.children[1].body": ["d#1", "d#2", "d#3"],
      "$.flow.children[2].body": ["d#1"],
      "$.flow.children[2].catch": []
    })
  })

  it("places the branches of a fanout whose body uses a ref twice, as they interleave", () => {
    const body: FlowNode = { kind: "seq", children: [step("a"), step("a")] }
    const flow: FlowNode = { kind: "fanout", items: { op: "path", at: "$.xs" }, bind: "$.x", body, join: "all", out: "$.o" }
    // branch 1 gets through both nodes before branch 2 starts its first
    const steps = [ran("a", 1), ran("a", 1), ran("a", 2), ran("a", 2)]
    expect(ids(placeSteps(flow, steps))).toEqual({
      "$.flow.body.children[0]": ["a#1", "a#2"],
      "$.flow.body.children[1]": ["a#1", "a#2"]
    })
  })

  it("places fanout branches on the body node in start order, whatever order the view lists them", () => {
    const flow: FlowNode = {
      kind: "fanout", items: { op: "path", at: "$.files" }, bind: "$.file", body: step("review"), join: "all", out: "$.reviews"
    }
    const [one, two, three] = [ran("review", 1), ran("review", 2), ran("review", 3)]
    expect(ids(placeSteps(flow, [three!, one!, two!]))).toEqual({ "$.flow.body": ["review#1", "review#2", "review#3"] })
  })

  it("places a step by its location: an agent in two fanouts, and in both arms of a branch", () => {
    const fanout = (items: string): FlowNode => ({ kind: "fanout", items: { op: "path", at: items }, bind: "$.item", join: "all", out: "$.r", body: step("a") })
    const twoFanouts: FlowNode = { kind: "seq", children: [fanout("$.none"), fanout("$.two")] }
    // the first fanout got no items: by attempt alone the second one's steps look like the first one's
    const at = (location: string, s: Step): Step => ({ ...s, location })
    const second = [at("$.flow.children[1].body", ran("a", 1)), at("$.flow.children[1].body", ran("a", 2))]
    expect(ids(placeSteps(twoFanouts, second))).toEqual({ "$.flow.children[0].body": [], "$.flow.children[1].body": ["a#1", "a#2"] })

    // a loop whose first round takes the else arm and whose second takes the then arm
    const loop: FlowNode = {
      kind: "loop", counter: "$.n", cond: { op: "lit", value: true }, max: 2,
      body: { kind: "branch", cond: { op: "path", at: "$.go" }, then: step("a"), else: step("a") }
    }
    const rounds = [at("$.flow.body.else", ran("a", 1)), at("$.flow.body.then", ran("a", 1))]
    expect(ids(placeSteps(loop, rounds))).toEqual({ "$.flow.body.then": ["a#1"], "$.flow.body.else": ["a#1"] })
    expect(placeSteps(loop, rounds).get("$.flow.body.else")![0]!.step_id).toBe(rounds[0]!.step_id)
  })

  it("keeps the requests a step still waits on, by req_id", () => {
    const base = { at: "", step_id: "ST-1" }
    const open = openRequests([
      { seq: 1, type: "request_sent", ...base, req_id: "R-1", kind: "hook_before", sid: "S-1" },
      { seq: 2, type: "request_answered", ...base, req_id: "R-1", kind: "hook_before", status: "ok" },
      { seq: 3, type: "request_sent", ...base, req_id: "R-2", kind: "spawn", sid: "S-1" },
      { seq: 4, type: "request_sent", at: "", step_id: "ST-2", req_id: "R-3", kind: "ask", sid: "S-2" },
      { seq: 5, type: "step_finished", at: "", step_id: "ST-2" }
    ])
    expect(open.get("ST-1")).toEqual([{ req_id: "R-2", kind: "spawn", sid: "S-1" }])
    expect(open.get("ST-2")).toBeUndefined()
  })

  it("says what a step waits on: an empty seat, an operator's answer, a sub-agent", () => {
    const agent = { name: "coder", kind: "operator" as const, operator: "lead" }
    const waiting = { ...ran("coder", 1), status: "waiting_for_operator" }
    expect(waitsOn(waiting, agent, { lead: null }, [])).toBe("waits for an operator to take seat lead (empty)")
    const running = { ...ran("coder", 1), status: "running" }
    expect(waitsOn(running, agent, { lead: { sid: "S-abc" } }, [{ req_id: "R-9", kind: "hook_before", sid: "S-abc" }]))
      .toBe("waits on operator S-abc to answer hook_before R-9")
    expect(waitsOn(running, agent, {}, [{ req_id: "R-8", kind: "spawn", sid: "S-abc" }]))
      .toBe("waits on the sub-agent started by operator S-abc (spawn R-8)")
    expect(waitsOn(ran("coder", 1), agent, {}, [])).toBeUndefined()
  })
})
