/**
 * Scenario 4 (quality.md R5): `POST /v1/runs/:id/cancel` while a step is in flight. The
 * operator gets `cancel` for the withdrawn request, the sub-agent's late input is 410, the
 * run ends `cancelled`, and a second cancel is 409.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, request, startServer, type TestServer } from "../helpers.js"
import { awaitRun, launch, oneStepBlueprint, ScriptedOperator } from "./operator-client.js"
import { fetchPrompt, postResult, submit } from "./sub-agent.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const cancel = (runId: string) => request(server, "POST", `/v1/runs/${runId}/cancel`)

describe("scenario 4: cancel while a spawn is pending (R5)", () => {
  it("cancel frame with the req_id and run_cancelled; late submit 410; run cancelled; second cancel 409", async () => {
    const op = await ScriptedOperator.login(server, { desc: "cancel" })
    const launched = await launch(server, {
      blueprint: oneStepBlueprint({ id: "e2e-cancel" }),
      input: { request: "to be cancelled" },
      operator_sid: op.sid
    })
    const spawn = await op.waitType("spawn")
    expect((await fetchPrompt(server, spawn.worker_handle, spawn.task_id)).status).toBe(200)

    const mark = op.mark()
    const cancelled = await cancel(launched.run_id)
    expect(cancelled.status, cancelled.text).toBe(202)

    const frame = await op.waitType("cancel", { from: mark })
    expect(frame).toEqual({ type: "cancel", req_id: spawn.req_id, reason: "run_cancelled" })

    const run = await awaitRun(server, launched.run_id)
    expect(run.status, JSON.stringify(run)).toBe("cancelled")
    expect(typeof run.finished_at).toBe("string")
    const step = run.steps.find((s: any) => s.step_id === spawn.task_id)
    expect(step?.status).toBe("cancelled")

    // the sub-agent did not hear of it and submits late: 410, nothing changes
    const late = await submit(server, spawn.worker_handle, "{\"late\": true}")
    expect(late.status, late.text).toBe(410)
    envelopeCode(late)
    const lateResult = await postResult(server, spawn.worker_handle, { late: true }, true)
    expect(lateResult.status, lateResult.text).toBe(410)
    envelopeCode(lateResult)
    const after = await awaitRun(server, launched.run_id)
    expect(after.status).toBe("cancelled")
    expect(JSON.stringify(after)).not.toContain("late")

    // a reply to the withdrawn request is refused
    const mark2 = op.mark()
    op.spawnAck(spawn.req_id)
    expect(await op.waitType("error", { from: mark2 })).toMatchObject({ code: "unknown_request", req_id: spawn.req_id })

    // nothing is owed any more
    const info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(info.json.pending).toEqual([])

    // cancelling again: the run has finished
    const again = await cancel(launched.run_id)
    expect(again.status, again.text).toBe(409)
    envelopeCode(again)

    expect(op.ws.readyState).toBe(op.ws.OPEN)
    await op.close()
  })

  // the other phases of one step (R5 "cancel during every phase")
  const phases: Array<{
    name: string
    mainAi: boolean
    seated: boolean
    /** Bring the step to the phase; returns the req_id the cancel must withdraw, if any. */
    reach: (op: ScriptedOperator) => Promise<{ reqId?: string; handle?: string }>
  }> = [
    {
      name: "seat empty (waiting_for_operator)",
      mainAi: false,
      seated: false,
      reach: async () => ({})
    },
    {
      name: "hook_before pending",
      mainAi: true,
      seated: true,
      reach: async (op) => ({ reqId: (await op.waitType("hook_before")).req_id })
    },
    {
      name: "spawn pending after the sub-agent submitted",
      mainAi: false,
      seated: true,
      reach: async (op) => {
        const spawn = await op.waitType("spawn")
        expect((await submit(server, spawn.worker_handle, "submitted before cancel")).status).toBe(200)
        return { reqId: spawn.req_id, handle: spawn.worker_handle }
      }
    }
  ]

  for (const phase of phases) {
    it(`cancel during: ${phase.name}`, async () => {
      const op = await ScriptedOperator.login(server)
      const launched = await launch(server, {
        blueprint: oneStepBlueprint({ mainAi: phase.mainAi }),
        input: { request: phase.name },
        ...(phase.seated ? { operator_sid: op.sid } : {})
      })
      if (!phase.seated) {
        const waiting = await awaitRun(server, launched.run_id, {
          until: () => true
        })
        expect(waiting.status).toBe("running")
        // the step shows as waiting for an operator
        const deadline = Date.now() + 3000
        let run = waiting
        while (!run.steps?.some((s: any) => s.status === "waiting_for_operator") && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20))
          run = await awaitRun(server, launched.run_id, { until: () => true })
        }
        expect(run.steps.map((s: any) => s.status)).toContain("waiting_for_operator")
      }
      const reached = await phase.reach(op)
      const mark = op.mark()
      expect((await cancel(launched.run_id)).status).toBe(202)
      if (reached.reqId !== undefined) {
        expect(await op.waitType("cancel", { from: mark })).toEqual({
          type: "cancel",
          req_id: reached.reqId,
          reason: "run_cancelled"
        })
      }
      const run = await awaitRun(server, launched.run_id)
      expect(run.status, JSON.stringify(run)).toBe("cancelled")
      expect(run.steps.some((s: any) => s.status === "passed")).toBe(false)
      if (reached.handle !== undefined) {
        const late = await submit(server, reached.handle, "again")
        expect(late.status).toBe(410)
        envelopeCode(late)
      }
      // no request of this run is still owed, and nothing more arrives for it
      const info = await request(server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
      expect(info.json.pending).toEqual([])
      expect(op.ofType("spawn", mark)).toEqual([])
      await op.close()
    })
  }
})
