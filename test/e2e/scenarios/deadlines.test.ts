/**
 * Request deadlines configured on the server (protocol.md §3.1): a request whose deadline
 * passes is withdrawn with `cancel` reason `deadline`, and the engine call fails with a
 * timeout naming the kind. The exact instant is TestClock-tested in test/session; this
 * checks the server passes its configuration through to every session.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer({ deadlines: { spawn: "300 millis" } })
})
afterAll(() => server.close())

describe("request deadlines configured on the server", () => {
  it("an unanswered spawn gets cancel reason deadline and the run fails naming spawn_timeout", async () => {
    const op = await ScriptedOperator.login(server, { desc: "deadline" })
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-deadline" }),
      input: { request: "never answered" },
      operator_sid: op.sid
    })
    const spawn = await op.waitType("spawn")
    const cancel = await op.waitType("cancel")
    expect(cancel).toEqual({ type: "cancel", req_id: spawn.req_id, reason: "deadline" })

    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("failed")
    expect(run.error.message).toMatch(/spawn_timeout/)
    expect(run.error.message).toMatch(/300 ms/)

    // nothing is owed any more; a late reply is refused
    const info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(info.json.pending).toEqual([])
    const mark = op.mark()
    op.spawnAck(spawn.req_id)
    expect(await op.waitType("error", { from: mark })).toMatchObject({ code: "unknown_request", req_id: spawn.req_id })
    await op.close()
  })
})
