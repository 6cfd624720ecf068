/**
 * Socket promises checked end to end against a real server, each against what the operator
 * itself saw rather than against the server's own view:
 * - redelivery after a reconnect comes oldest first, in the order the engine issued the
 *   requests (the order they first arrived), not merely in the order the server lists them;
 * - a well-formed frame of an unknown type is refused for its type, with the exact message,
 *   and does not count as a reply to the request it names.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, request, startServer, type TestServer } from "../e2e/helpers.js"
import { awaitRun, fanoutBlueprint, launch, oneStepBlueprint, ScriptedOperator } from "../e2e/scenarios/operator-client.js"
import { submit } from "../e2e/scenarios/sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const ACCEPTED = "accepted types: answer, hook_ack, spawn_ack, spawn_halt"

const owedIds = async (op: ScriptedOperator): Promise<Array<string>> => {
  const info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
  expect(info.status).toBe(200)
  return info.json.pending.map((p: any) => p.req_id)
}

describe("redelivery order, end to end", () => {
  it("after a reconnect the owed requests come again in the order they were first sent, each once", async () => {
    const op = await ScriptedOperator.login(server, { desc: "redelivery order" })
    const fan = fanoutBlueprint({ mainAi: true })
    const launched = await launch(server, { blueprint: fan, input: { items: [1, 2, 3] }, operator_sid: op.sid })
    await op.waitFor(() => op.ofType("hook_before").length === 3)
    const befores = op.ofType("hook_before")
    // approve out of order, so that neither task order nor req_id order is the issue order
    op.hookAck(befores[2].req_id)
    const later = await op.waitType("spawn", { where: (f) => f.task_id === befores[2].task_id })
    op.hookAck(befores[0].req_id)
    const latest = await op.waitType("spawn", { where: (f) => f.task_id === befores[0].task_id })

    // what the operator is owed, in the order it first received it
    const issued = [befores[1].req_id, later.req_id, latest.req_id]
    const firstSeen = op.log.filter((r) => r.conn === 0 && issued.includes(r.frame.req_id)).map((r) => r.frame.req_id)
    expect(firstSeen).toEqual(issued)
    expect(new Set(await owedIds(op))).toEqual(new Set(issued))

    await op.drop()
    const mark = op.mark()
    await op.connect()
    await op.waitFor((_f, rec) => rec.conn === 1 && op.log.slice(mark).length >= 3, { from: mark })
    const redelivered = op.log.slice(mark, mark + 3).map((r) => r.frame)
    expect(redelivered.map((f) => f.req_id)).toEqual(issued)
    expect(redelivered.map((f) => f.redelivery)).toEqual([true, true, true])

    // finish the run; then no owed request has come twice on the new socket
    op.hookAck(befores[1].req_id)
    const third = await op.waitType("spawn", { from: mark, where: (f) => f.task_id === befores[1].task_id })
    for (const s of [later, latest, third]) {
      expect((await submit(server, s.worker_handle, `r${s.task_id}`)).status).toBe(200)
      op.spawnAck(s.req_id)
    }
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.steps.map((s: any) => s.status)).toEqual(["passed", "passed", "passed"])
    const again = op.log.slice(mark).filter((r) => r.frame.redelivery === true).map((r) => r.frame.req_id)
    expect(again).toEqual(issued)
    expect(op.ofType("error")).toEqual([])
    await op.close()
  })
})

describe("unknown frame types, end to end", () => {
  it("a well-formed frame of an unknown type naming an owed request is refused for its type and answers nothing", async () => {
    const op = await ScriptedOperator.login(server, { desc: "unknown types" })
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "unknown-types" }),
      input: { request: "x" },
      operator_sid: op.sid
    })
    const spawn = await op.waitType("spawn")
    const reqId: string = spawn.req_id
    // complete replies in every field but `type`: only the type can be why they are refused
    const frames: Array<[string, Record<string, unknown>]> = [
      ["hello", { type: "hello", req_id: reqId, value: "hijack", ok: true }],
      ["ask", { type: "ask", req_id: reqId, value: "hijack", ok: true }],
      ["spawn", { type: "spawn", req_id: reqId, value: "hijack", ok: true }],
      ["ANSWER", { type: "ANSWER", req_id: reqId, value: "hijack" }],
      ["spawn_ack ", { type: "spawn_ack ", req_id: reqId, value: "hijack", ok: true }],
      ["error", { type: "error", req_id: reqId, code: "bad_frame", message: "x", value: "hijack" }]
    ]
    for (const [type, frame] of frames) {
      const mark = op.mark()
      op.send(frame)
      const error = await op.waitType("error", { from: mark })
      expect(error, type).toEqual({
        type: "error",
        code: "bad_frame",
        req_id: reqId,
        message: `unknown frame type ${JSON.stringify(type)}; ${ACCEPTED}`
      })
      expect(op.ws.readyState, type).toBe(op.ws.OPEN)
    }
    // still owed: none of those frames was taken as the reply
    expect(await owedIds(op)).toEqual([reqId])
    expect((await request(server, "GET", `/v1/runs/${launched.run_id}`)).json.status).toBe("running")

    expect((await submit(server, spawn.worker_handle, "the real result")).status).toBe(200)
    op.spawnAck(reqId)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toBe("the real result")
    expect(op.ofType("error")).toHaveLength(frames.length)
    await op.close()
  })
})
