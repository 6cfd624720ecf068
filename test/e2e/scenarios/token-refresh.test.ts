/**
 * A spawn that waited for a reconnect gets a fresh capability token when the old one is
 * near expiry (http-api.md, worker endpoints): the redelivered frame carries a new token,
 * the handle stays the same and lives as long as the new token.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { envelopeCode, sleep, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { fetchPrompt, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  // a 2 s lifetime is inside the refresh window, so every redelivery re-mints
  server = await startServer({}, { workerTokenTtl: "2 seconds" })
})
afterAll(() => server.close())

describe("worker credentials across a reconnect", () => {
  it("the redelivered spawn carries a fresh token; the old one expires, the handle lives on", async () => {
    const op = await ScriptedOperator.login(server, { desc: "token refresh" })
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-token-refresh" }),
      input: { request: "slow operator" },
      operator_sid: op.sid
    })
    const first = await op.waitType("spawn")
    await sleep(1200)
    const mark = op.mark()
    await op.reconnect()
    const again = await op.waitType("spawn", { from: mark })
    expect(again.req_id).toBe(first.req_id)
    expect(again.redelivery).toBe(true)
    expect(again.worker_handle).toBe(first.worker_handle)
    expect(again.capability_token).not.toBe(first.capability_token)

    // past the first token's lifetime, inside the fresh one's
    await sleep(1000)
    const stale = await fetchPrompt(server, first.capability_token, first.task_id)
    expect(stale.status, stale.text).toBe(401)
    envelopeCode(stale)
    expect((await fetchPrompt(server, again.capability_token, again.task_id)).status).toBe(200)
    expect((await fetchPrompt(server, again.worker_handle, again.task_id)).status).toBe(200)

    expect((await submit(server, again.worker_handle, "{\"done\": true}")).status).toBe(200)
    op.spawnAck(again.req_id)
    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("done")
    expect(run.result.answer).toEqual({ done: true })
    await op.close()
  })
})
