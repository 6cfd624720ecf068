/**
 * `/v1/status` counters from the real engine and registry, and what a server stop does to
 * running runs (cli.md `serve`: they become `interrupted`; resume finishes them).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { RunRepo } from "../../src/services/repos/RunRepo.js"
import { Effect, Option } from "effect"
import { connect, envelopeCode, login, request } from "./helpers.js"
import {
  durableStorage,
  launch,
  operatorBlueprint,
  readSse,
  type Server,
  service,
  sleepBlueprint,
  startApp,
  waitRun
} from "./routes-fixtures.js"
import { RunId } from "../../src/protocol/ids.js"

const eventually = async (check: () => Promise<boolean>, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const status = async (server: Server) => {
  const reply = await request(server, "GET", "/v1/status")
  expect(reply.status).toBe(200)
  return reply.json as { running_runs: number; pending_requests: number; sessions: number; connected_sessions: number }
}

describe("GET /v1/status", () => {
  let server: Server
  beforeAll(async () => {
    server = await startApp()
  })
  afterAll(() => server.close())

  it("counts running runs and the requests pending in every session", async () => {
    expect(await status(server)).toMatchObject({ running_runs: 0, pending_requests: 0, sessions: 0 })
    const parked = await login(server, "not connected")
    const busy = await login(server, "connected")
    const client = await connect(server, busy.sid, busy.token)

    // a spawn to a session without a socket stays pending in it
    const a = await launch(server, { blueprint: operatorBlueprint(), input: { task: "a" }, operator_sid: parked.sid })
    const b = await launch(server, { blueprint: operatorBlueprint(), input: { task: "b" }, operator_sid: busy.sid })
    await client.waitFor((f) => f.type === "spawn" && f.run_id === b.run_id)
    const nap = await launch(server, { blueprint: sleepBlueprint(), input: { nap: { ms: 60_000 } } })
    // the parked spawn is registered a moment after its step record: wait for it
    await eventually(async () => (await status(server)).pending_requests === 2)
    expect(await status(server)).toMatchObject({ running_runs: 3, pending_requests: 2, sessions: 2, connected_sessions: 1 })

    await request(server, "POST", `/v1/runs/${a.run_id}/cancel`)
    expect(await status(server)).toMatchObject({ running_runs: 2, pending_requests: 1 })
    await request(server, "POST", `/v1/runs/${b.run_id}/cancel`)
    await request(server, "POST", `/v1/runs/${nap.run_id}/cancel`)
    expect(await status(server)).toMatchObject({ running_runs: 0, pending_requests: 0 })
    client.close()
  })
})

describe("server stop and resume", () => {
  it("a stop marks running runs interrupted (finished ones stay); after a restart resume finishes them", async () => {
    const storage = await durableStorage()
    const blueprint = {
      agents: [{ name: "echo", kind: "builtin", fn: "echo" }, { name: "nap", kind: "builtin", fn: "sleep" }],
      flow: {
        kind: "seq",
        children: [
          { kind: "step", ref: "echo", in: { op: "path", at: "$.a" }, out: "$.echoed" },
          { kind: "step", ref: "nap", in: { op: "path", at: "$.nap" }, out: "$.slept" }
        ]
      }
    }

    const first = await startApp({}, {}, storage.layer)
    const done = await request(first, "POST", "/v1/tasks", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ blueprint: sleepBlueprint(), input: { nap: { ms: 1 } }, wait: true })
    })
    expect(done.json.status).toBe("done")
    const { run_id } = await launch(first, { blueprint, input: { a: 1, nap: { ms: 300 } } })
    const before = await waitRun(first, run_id, (r) => r.steps.length === 2)
    // an operator step waiting on its session: the engine stops before the sessions end,
    // so the pending spawn is not failed first (which would make the run `failed`)
    const { sid } = await login(first, "parked")
    const operatorRun = await launch(first, { blueprint: operatorBlueprint(), input: { task: "t" }, operator_sid: sid })
    await waitRun(first, operatorRun.run_id, (r) => r.steps.length === 1)
    await first.close()

    const repo = service(storage.context, RunRepo)
    const stored = await Effect.runPromise(repo.get(RunId.make(run_id)))
    expect(Option.getOrThrow(stored).status).toBe("interrupted")
    expect(Option.getOrThrow(await Effect.runPromise(repo.get(RunId.make(done.json.run_id)))).status).toBe("done")
    expect(Option.getOrThrow(await Effect.runPromise(repo.get(RunId.make(operatorRun.run_id)))).status).toBe("interrupted")

    const second = await startApp({}, {}, storage.layer)
    try {
      const interrupted = await request(second, "GET", `/v1/runs/${run_id}`)
      expect(interrupted.json.status).toBe("interrupted")
      expect(interrupted.json.finished_at).toBeUndefined()
      expect((await status(second)).running_runs).toBe(0)
      // cancel and acquire rules still hold for it; resume is the way on
      const resumed = await request(second, "POST", `/v1/runs/${run_id}/resume`)
      expect(resumed.status, resumed.text).toBe(202)
      expect(resumed.json).toEqual({ run_id, status: "running" })
      const again = await request(second, "POST", `/v1/runs/${run_id}/resume`)
      expect(again.status).toBe(409)
      expect(envelopeCode(again)).toBe("not_interrupted")
      const sse = await readSse(second, run_id)
      expect(sse.events.filter((e) => e.event === "run_started").map((e) => e.data.message)).toEqual([undefined, "resumed"])
      expect(sse.events.at(-1)).toMatchObject({ event: "run_finished", data: { status: "done" } })
      const finished = await waitRun(second, run_id)
      expect(finished.status).toBe("done")
      expect(finished.result).toEqual({ a: 1, nap: { ms: 300 }, echoed: { agent: "echo", input: 1 }, slept: { ms: 300 } })
      // the echo step passed before the stop: reused, not dispatched again
      expect(finished.steps.map((s: any) => [s.ref, s.status])).toEqual([["echo", "passed"], ["nap", "passed"]])
      expect(finished.steps[0].step_id).toBe(before.steps[0].step_id)
      expect(finished.steps[0].finished_at).toBe(before.steps[0].finished_at)
    } finally {
      await second.close()
    }
  })
})
