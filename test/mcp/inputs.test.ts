/** Tool inputs: the schema tools/list shows and the decoding the adapter does come from one declaration. */
import { describe, expect, it } from "@effect/vitest"
import { decodeInput, inputJsonSchema, inputs, type ToolName } from "../../src/mcp/inputs.js"
import { describeRequest } from "../../src/mcp/tools.js"
import { renderDirective } from "../../src/protocol/directive.js"
import { Effect } from "effect"
import type { Incoming } from "../../src/client/OperatorConnection.js"
import type { StepId } from "../../src/protocol/ids.js"

const names = Object.keys(inputs) as Array<ToolName>

describe("tool inputs", () => {
  it("every field of every tool is typed and described; no $ref", () => {
    for (const name of names) {
      const schema = inputJsonSchema(name)
      expect(JSON.stringify(schema)).not.toContain("$ref")
      expect(schema.additionalProperties).toBe(false)
      for (const [field, s] of Object.entries(schema.properties as Record<string, any>)) {
        expect(s.type ?? s.anyOf, `${name}.${field}`).toBeDefined()
        expect(typeof s.description, `${name}.${field}`).toBe("string")
      }
    }
  })

  it("required fields in the schema are the ones decoding insists on", () => {
    for (const name of names) {
      const required = (inputJsonSchema(name).required as Array<string>) ?? []
      const decoded = decodeInput(name, {})
      if (required.length === 0) expect(decoded._tag).toBe("Right")
      else for (const field of required) expect(decoded._tag === "Left" && decoded.left).toContain(`${field}: is missing`)
    }
  })

  it("decoding names each problem and what is allowed", () => {
    const bad = decodeInput("ack", { sid: " ", req_id: "r", kind: "reply", extra: true })
    expect(bad._tag).toBe("Left")
    const message = bad._tag === "Left" ? bad.left : ""
    expect(message).toContain("sid: sid must not be empty")
    expect(message).toContain("kind: kind must be one of answer, hook_ack, spawn_ack, spawn_halt, got \"reply\"")
    expect(message).toContain("extra: is unexpected")
    expect(decodeInput("run_start", { blueprint: "x", input: [1] })).toMatchObject({ _tag: "Left", left: "input: input must be a JSON object" })
    expect(decodeInput("pending_wait", { sid: "S-1", timeout_ms: 300_001 })._tag).toBe("Left")
    expect(decodeInput("ack", { sid: "S-1", req_id: "r", kind: "answer", value: null })).toMatchObject({
      _tag: "Right",
      right: { value: null }
    })
  })
})

describe("describeRequest", () => {
  const frame = (directive: string) => ({
    type: "spawn" as const,
    req_id: "S-1-spawn-x",
    task_id: "ST-1" as StepId,
    agent: "coder",
    attempt: 1,
    capability_token: "long",
    worker_handle: "wh-1",
    run_id: "R-1",
    directive
  })
  const incoming = (f: ReturnType<typeof frame>): Incoming => ({ frame: f, withdrawn: Effect.never, isWithdrawn: Effect.succeed(false) })

  it("a spawn carries the sub-agent prompt read from its directive, alias line included", () => {
    const directive = renderDirective({ agent: "coder", taskId: "ST-1", baseUrl: "http://h:1", workerHandle: "wh-1", alias: "p" })
    expect(describeRequest("http://other:2", incoming(frame(directive)))).toEqual({
      req_id: "S-1-spawn-x",
      type: "spawn",
      task_id: "ST-1",
      agent: "coder",
      attempt: 1,
      run_id: "R-1",
      worker_handle: "wh-1",
      directive,
      subagent_prompt: "agent_id: coder\nworker_handle: wh-1\nbase_url: http://h:1\ntask_id: ST-1\nSession alias: p"
    })
  })

  it("falls back to the adapter's server when the directive has no prompt lines", () => {
    expect(describeRequest("http://other:2", incoming(frame("free text"))).subagent_prompt)
      .toBe("agent_id: coder\nworker_handle: wh-1\nbase_url: http://other:2\ntask_id: ST-1")
  })
})
