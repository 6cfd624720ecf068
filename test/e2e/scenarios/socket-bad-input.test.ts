/**
 * Scenario 5 (protocol.md §2.3): bad input over the operator socket. Malformed frames get
 * `error bad_frame` and change nothing; a reply nobody is owed gets `unknown_request`; a
 * reply of the wrong type fails that step (not an error frame). The socket stays open.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { fetchPrompt, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

/** A syntactically valid req_id this session was never sent. */
const strayReqId = (sid: string) => `${sid}-spawn-00000000-0000-4000-8000-000000000000`

describe("scenario 5: bad input over the socket", () => {
  it("every malformed frame gets `error bad_frame`, the socket stays open, and a real step still works", async () => {
    const op = await ScriptedOperator.login(server, { desc: "bad frames" })
    const stray = strayReqId(op.sid)
    const bad: Array<[string, unknown, RegExp?]> = [
      ["not JSON", "{nope"],
      ["empty text", ""],
      ["a JSON array", "[1,2]"],
      ["a JSON string", "\"answer\""],
      ["JSON null", "null"],
      // complete but for its type, so the type is the only reason to refuse it
      ["unknown type", { type: "hello", req_id: stray, value: 1, ok: true },
        /^unknown frame type "hello"; accepted types: answer, hook_ack, spawn_ack, spawn_halt$/],
      ["no type", { req_id: stray, value: 1 }, /type/],
      ["missing req_id", { type: "answer", value: 1 }, /req_id/],
      ["req_id not a string", { type: "answer", req_id: 42, value: 1 }, /req_id/],
      ["answer without value", { type: "answer", req_id: stray }, /value/],
      ["hook_ack with ok:\"yes\"", { type: "hook_ack", req_id: stray, ok: "yes" }, /ok/],
      ["hook_ack without ok", { type: "hook_ack", req_id: stray }, /ok/],
      ["spawn_ack with ok:1", { type: "spawn_ack", req_id: stray, ok: 1 }, /ok/],
      ["spawn_ack with error:5", { type: "spawn_ack", req_id: stray, error: 5 }, /error/],
      ["spawn_halt with reason:[]", { type: "spawn_halt", req_id: stray, reason: [] }, /reason/]
    ]
    for (const [what, frame, names] of bad) {
      const mark = op.mark()
      op.send(frame)
      const error = await op.waitType("error", { from: mark })
      expect(error.code, what).toBe("bad_frame")
      expect(typeof error.message, what).toBe("string")
      expect(error.message.length, what).toBeGreaterThan(0)
      if (names !== undefined) expect(error.message, what).toMatch(names)
      expect(op.ws.readyState, what).toBe(op.ws.OPEN)
    }
    const mark = op.mark()
    op.sendBinary(new Uint8Array([1, 2, 3]))
    expect((await op.waitType("error", { from: mark })).code).toBe("bad_frame")
    const markJsonBinary = op.mark()
    op.sendBinary(Buffer.from(JSON.stringify({ type: "answer", req_id: stray, value: 1 })))
    expect((await op.waitType("error", { from: markJsonBinary })).code).toBe("bad_frame")
    expect(op.ws.readyState).toBe(op.ws.OPEN)

    // a valid exchange afterwards, on the same socket, still works
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-after-bad", mainAi: true }),
      input: { request: "still alive" },
      operator_sid: op.sid
    })
    const before = await op.waitType("hook_before")
    op.hookAck(before.req_id, true)
    const spawn = await op.waitType("spawn")
    expect((await fetchPrompt(server, spawn.worker_handle)).status).toBe(200)
    expect((await submit(server, spawn.worker_handle, "fine")).status).toBe(200)
    op.spawnAck(spawn.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toBe("fine")
    expect(op.connectionCount).toBe(1)
    await op.close()
  })

  it("a well-formed reply to a req_id that is not owed gets `error unknown_request` with that req_id", async () => {
    const op = await ScriptedOperator.login(server)
    const cases: Array<unknown> = [
      { type: "answer", req_id: strayReqId(op.sid), value: 1 },
      { type: "hook_ack", req_id: "never-sent", ok: true },
      { type: "spawn_ack", req_id: "never-sent-2" },
      { type: "spawn_halt", req_id: "never-sent-3", reason: "x" }
    ]
    for (const frame of cases) {
      const mark = op.mark()
      op.send(frame)
      const error = await op.waitType("error", { from: mark })
      expect(error).toMatchObject({ code: "unknown_request", req_id: (frame as any).req_id })
    }
    // another session's request id is not owed by this session either
    const other = await ScriptedOperator.login(server)
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: other.sid })
    const spawn = await other.waitType("spawn")
    const mark = op.mark()
    op.spawnAck(spawn.req_id)
    expect(await op.waitType("error", { from: mark })).toMatchObject({ code: "unknown_request", req_id: spawn.req_id })
    // ... and it is still owed to its own session
    expect((await awaitRun(server, launched.run_id, { until: () => true })).status).toBe("running")
    expect((await submit(server, spawn.worker_handle, "ok")).status).toBe(200)
    other.spawnAck(spawn.req_id)
    expect((await awaitRun(server, launched.run_id)).status).toBe("done")
    expect(op.ws.readyState).toBe(op.ws.OPEN)
    await op.close()
    await other.close()
  })

  it("a reply of the wrong type (hook_ack to a spawn) fails the step naming the type, with no error frame", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-wrong-type" }),
      input: { request: "wrong reply" },
      operator_sid: op.sid
    })
    const spawn = await op.waitType("spawn")
    const mark = op.mark()
    op.hookAck(spawn.req_id, true)

    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("failed")
    expect(run.error.message).toMatch(/hook_ack/)
    const step = run.steps.find((s: any) => s.step_id === spawn.task_id)
    expect(step?.status).toBe("failed")

    // the reply was consumed (first reply wins), not refused: no error frame for it
    expect(op.ofType("error", mark)).toEqual([])
    // a second reply to it is now not owed
    const mark2 = op.mark()
    op.spawnAck(spawn.req_id)
    expect(await op.waitType("error", { from: mark2 })).toMatchObject({ code: "unknown_request", req_id: spawn.req_id })
    // the late submit: the step is finished
    expect((await submit(server, spawn.worker_handle, "late")).status).toBe(410)
    expect(op.ws.readyState).toBe(op.ws.OPEN)
    await op.close()
  })

  it("hook_ack ok:false rejects the spawn with the reason and fails the step", async () => {
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-rejected", mainAi: true }),
      input: {},
      operator_sid: op.sid
    })
    const before = await op.waitType("hook_before")
    op.hookAck(before.req_id, false, "not today")
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("failed")
    expect(run.error.message).toContain("not today")
    expect(op.ofType("spawn")).toEqual([])
    await op.close()
  })

  it("a frame over 1 MiB closes the socket with 1009; the session survives and reconnects", async () => {
    const op = await ScriptedOperator.login(server)
    op.send({ type: "answer", req_id: strayReqId(op.sid), value: "x".repeat(1024 * 1024 + 10) })
    expect((await op.closed()).code).toBe(1009)
    await op.connect()
    const mark = op.mark()
    op.send("{nope")
    expect((await op.waitType("error", { from: mark })).code).toBe("bad_frame")
    await op.close()
  })
})
