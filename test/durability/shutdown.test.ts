/**
 * A graceful stop (SIGTERM) with SQLite: the running run is stored `interrupted` by the
 * stopping process itself, and an SSE follower's stream ends with `run_interrupted`.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { request } from "../e2e/helpers.js"
import { launch, oneStepBlueprint, readEvents, ScriptedOperator, sseType } from "../e2e/scenarios/operator-client.js"
import { tempDir } from "../storage/fixtures.js"
import { type ChildServer, startChild, stop } from "./child.js"

const running: Array<ChildServer> = []
afterEach(() => {
  for (const r of running.splice(0)) r.child.kill("SIGKILL")
})

const storedStatus = (dataDir: string, runId: string) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ status: string }>`SELECT status FROM runs WHERE run_id = ${runId}`).pipe(
      Effect.provide(SqliteClient.layer({ filename: join(dataDir, "swarmgate.db") }))
    )
  )

describe("graceful stop with SQLite", () => {
  it("SIGTERM: the run is stored interrupted before exit 0, and the follower's stream ends with run_interrupted", { timeout: 120_000 }, async () => {
    const dataDir = join(tempDir(), "data")
    const a = await startChild(["--data-dir", dataDir])
    running.push(a)
    const op = await ScriptedOperator.login(a.server)
    const { run_id } = await launch(a.server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    await op.waitType("spawn")
    const follower = readEvents(a.server, run_id, {
      timeoutMs: 15_000,
      stopAt: (e) => sseType(e) === "run_interrupted"
    })
    await new Promise((r) => setTimeout(r, 200))
    expect(await stop(a)).toBe(0)
    const events = await follower
    expect(events.events.map(sseType).at(-1)).toBe("run_interrupted")
    expect(events.events.at(-1)?.data).toMatchObject({ run_id, status: "interrupted" })
    expect(await storedStatus(dataDir, run_id)).toEqual([{ status: "interrupted" }])

    // and the next process shows it interrupted with its history, ending in run_interrupted
    const b = await startChild(["--data-dir", dataDir])
    running.push(b)
    expect((await request(b.server, "GET", `/v1/runs/${run_id}`)).json.status).toBe("interrupted")
    const replay = await readEvents(b.server, run_id, { timeoutMs: 5_000, stopAt: () => false })
    expect(replay.events.map(sseType).filter((t) => t === "run_interrupted")).toHaveLength(1)
    expect(replay.events.map(sseType).at(-1)).toBe("run_interrupted")
    expect((await request(b.server, "GET", "/v1/status")).json.storage).toBe("sqlite")
    await stop(b)
  })
})
