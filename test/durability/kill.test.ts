/**
 * quality.md R2 with real processes and files: the server is SIGKILLed mid-run and started
 * again on the same data directory. Sessions come back with their old tokens, the run is
 * `interrupted`, resume finishes it, a passed step is not dispatched again, the pending one
 * is redelivered with its `req_id`, and a submit that got its 200 is not lost. The database
 * files hold no credential in clear (S3).
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { bearer, request } from "../e2e/helpers.js"
import { awaitRun, launch, ScriptedOperator } from "../e2e/scenarios/operator-client.js"
import { submit } from "../e2e/scenarios/sub-agent.js"
import { tempDir } from "../storage/fixtures.js"
import { type ChildServer, kill, startChild } from "./child.js"

const twoSteps = {
  id: "two-steps",
  operators: [{ name: "lead" }],
  agents: [{ name: "worker", kind: "operator", operator: "lead" }],
  flow: {
    kind: "seq",
    children: [
      { kind: "step", ref: "worker", in: { op: "path", at: "$.first" }, out: "$.one" },
      { kind: "step", ref: "worker", in: { op: "path", at: "$.second" }, out: "$.two" }
    ]
  }
}

/** S3: the database files, read as bytes, hold no credential in clear (results do show up: the check can see). */
const expectNoCredentialInClear = (dataDir: string, credentials: ReadonlyArray<string>) => {
  const files = readdirSync(dataDir).filter((f) => f.startsWith("swarmgate.db"))
  const all = Buffer.concat(files.map((f) => readFileSync(join(dataDir, f))))
  expect(all.includes("result one")).toBe(true)
  for (const credential of credentials) {
    expect(all.includes(credential), `found ${credential.slice(0, 6)}… in clear`).toBe(false)
  }
}

const running: Array<ChildServer> = []
afterEach(() => {
  for (const r of running.splice(0)) r.child.kill("SIGKILL")
})
const start = async (dataDir: string) => {
  const child = await startChild(["--data-dir", dataDir])
  running.push(child)
  return child
}

describe("durability across SIGKILL (real processes, SQLite files)", () => {
  it("kill mid-run: old token works, run interrupted, resume skips the passed step and redelivers the pending one", { timeout: 120_000 }, async () => {
    const dataDir = join(tempDir(), "data")
    const a = await start(dataDir)
    const op = await ScriptedOperator.login(a.server, { desc: "kill test" })
    const { run_id } = await launch(a.server, { blueprint: twoSteps, input: { first: "A", second: "B" }, operator_sid: op.sid })

    // step one: the sub-agent submits (200), the operator acks; step two is then pending
    const spawnOne = await op.waitType("spawn")
    expect((await submit(a.server, spawnOne.worker_handle, "result one")).status).toBe(200)
    op.spawnAck(spawnOne.req_id, { value: null })
    const spawnTwo = await op.waitType("spawn", { where: (f) => f.req_id !== spawnOne.req_id })
    expect(spawnTwo.task_id).not.toBe(spawnOne.task_id)

    await kill(a)
    expectNoCredentialInClear(dataDir, [op.token, spawnOne.worker_handle, spawnOne.capability_token, spawnTwo.capability_token])

    const b = await start(dataDir)
    const restarted = new (ScriptedOperator as any)(b.server, op.sid, op.token) as ScriptedOperator
    // the old token authenticates against the new process
    const acquire = await request(b.server, "POST", `/v1/runs/${run_id}/acquire`, {
      headers: { ...bearer(op.token), "content-type": "application/json" },
      body: JSON.stringify({ sid: op.sid })
    })
    expect(acquire.status, acquire.text).toBe(200)

    const before = await request(b.server, "GET", `/v1/runs/${run_id}`)
    expect(before.json.status).toBe("interrupted")
    expect(before.json.steps.map((s: any) => s.status)).toEqual(["passed", "running"])

    expect((await request(b.server, "POST", `/v1/runs/${run_id}/resume`)).status).toBe(202)
    await restarted.connect()
    const again = await restarted.waitType("spawn")
    expect(again.req_id).toBe(spawnTwo.req_id)
    expect(again.task_id).toBe(spawnTwo.task_id)
    expect(again.redelivery).toBe(true)
    expect((await submit(b.server, again.worker_handle, "result two")).status).toBe(200)
    restarted.spawnAck(again.req_id, { value: null })

    const done = await awaitRun(b.server, run_id, { timeoutMs: 10_000 })
    expect(done.status).toBe("done")
    expect(done.result).toMatchObject({ one: "result one", two: "result two" })
    // the first step was not dispatched again
    expect(restarted.ofType("spawn").filter((f) => f.task_id === spawnOne.task_id)).toEqual([])
    expect(done.steps.map((s: any) => [s.step_id, s.status])).toEqual([
      [spawnOne.task_id, "passed"],
      [spawnTwo.task_id, "passed"]
    ])
    await restarted.close()
  })

  it("a submit that got its 200 is there after a SIGKILL right after it; resume uses it without a new spawn", { timeout: 120_000 }, async () => {
    const dataDir = join(tempDir(), "data")
    const a = await start(dataDir)
    const op = await ScriptedOperator.login(a.server)
    const { run_id } = await launch(a.server, {
      blueprint: { ...twoSteps, flow: twoSteps.flow.children[0] },
      input: { first: "A" },
      operator_sid: op.sid
    })
    const spawn = await op.waitType("spawn")
    expect((await submit(a.server, spawn.worker_handle, "kept")).status).toBe(200)
    await kill(a)

    const b = await start(dataDir)
    const restarted = new (ScriptedOperator as any)(b.server, op.sid, op.token) as ScriptedOperator
    await restarted.connect()
    expect((await request(b.server, "POST", `/v1/runs/${run_id}/resume`)).status).toBe(202)
    const done = await awaitRun(b.server, run_id, { timeoutMs: 10_000 })
    expect(done.status).toBe("done")
    expect(done.result).toMatchObject({ one: "kept" })
    expect(restarted.ofType("spawn")).toEqual([])
    await restarted.close()
  })
})
