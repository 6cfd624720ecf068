/**
 * `serve` and its storage as a user meets it (cli.md): the default data dir from
 * SWARMGATE_DATA_DIR, `--memory`, and the one-line refusals (unusable data dir, a database
 * from a newer version, a data dir already served by another process).
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { request } from "../e2e/helpers.js"
import { tempDir } from "../storage/fixtures.js"
import { type ChildServer, runToExit, startChild, stop } from "./child.js"

const running: Array<ChildServer> = []
afterEach(() => {
  for (const r of running.splice(0)) r.child.kill("SIGKILL")
})

/** One line on stderr, no stack trace, exit 1. */
const expectOneLineRefusal = (result: { code: number | null; output: string }, says: string) => {
  expect(result.code).toBe(1)
  expect(result.output).toContain(says)
  expect(result.output).not.toMatch(/\n\s+at /)
  expect(result.output.trim().split("\n")).toHaveLength(1)
}

describe("serve and its storage", () => {
  it("defaults to SWARMGATE_DATA_DIR (created 0700); state survives a restart; --memory keeps nothing", { timeout: 120_000 }, async () => {
    const dataDir = join(tempDir(), "from-env")
    const a = await startChild([], { SWARMGATE_DATA_DIR: dataDir })
    running.push(a)
    expect(a.output()).toContain(`state in SQLite at ${join(dataDir, "swarmgate.db")}`)
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    const put = await request(a.server, "PUT", "/v1/blueprints/kept", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agents: [{ name: "e", kind: "builtin", fn: "echo" }], flow: { kind: "step", ref: "e", in: { op: "path", at: "$" }, out: "$.r" } })
    })
    expect(put.status, put.text).toBe(200)
    expect(await stop(a)).toBe(0)

    const b = await startChild([], { SWARMGATE_DATA_DIR: dataDir })
    running.push(b)
    expect((await request(b.server, "GET", "/v1/blueprints/kept")).status).toBe(200)
    expect((await request(b.server, "GET", "/v1/status")).json.storage).toBe("sqlite")
    expect(await stop(b)).toBe(0)

    const m = await startChild(["--memory"], { SWARMGATE_DATA_DIR: dataDir })
    running.push(m)
    expect(m.output()).toContain("state in memory (--memory)")
    expect((await request(m.server, "GET", "/v1/blueprints/kept")).status).toBe(404)
    expect((await request(m.server, "GET", "/v1/status")).json.storage).toBe("memory")
    await stop(m)
  })

  it("a data dir that cannot be used, or a database from a newer version, is one clear line and exit 1", { timeout: 120_000 }, async () => {
    const file = join(tempDir(), "a-file")
    writeFileSync(file, "x")
    expectOneLineRefusal(
      await runToExit(["serve", "--port", "0", "--data-dir", join(file, "data")]),
      "cannot use the data directory"
    )

    const newer = join(tempDir(), "newer")
    const a = await startChild(["--data-dir", newer])
    running.push(a)
    // a second server on the same data dir is refused while the first holds it
    expectOneLineRefusal(await runToExit(["serve", "--port", "0", "--data-dir", newer]), "in use by another process")
    await stop(a)
    await Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`INSERT INTO effect_sql_migrations (migration_id, name) VALUES (999, 'from_the_future')`).pipe(
          Effect.provide(SqliteClient.layer({ filename: join(newer, "swarmgate.db") }))
        )
    )
    expectOneLineRefusal(
      await runToExit(["serve", "--port", "0", "--data-dir", newer]),
      "was written by a newer swarmgate (schema version 999"
    )
  })
})
