/**
 * `npm run bench` still works against the current server: P1b (the server started as users
 * start it, an operator seated by its token, a sub-agent's asks) and P5 (submits over HTTP)
 * run their whole preparation with a handful of requests (`BENCH_SMOKE=1`), as a child
 * process. An auth or route change that breaks the bench's setup fails here, not at the
 * next benchmark run.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("../..", import.meta.url))

describe("bench smoke", () => {
  it("P1b and P5 prepare and answer against the current server", async () => {
    const child = spawn(process.execPath, ["bin/bench.mjs", "--only=p1b,p5"], {
      cwd: repo,
      env: { ...process.env, BENCH_SMOKE: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect({ code, broken: /BROKEN.*/.exec(stdout)?.[0] ?? null, stderr: code === 0 ? "" : stderr }).toEqual({
      code: 0,
      broken: null,
      stderr: ""
    })
    expect(stdout).toContain("P1b operator round trip")
    expect(stdout).toMatch(/\n1 +swarmgate +[\d,]+ /)
    expect(stdout).toContain("P5 durable write")
    expect(stdout).toMatch(/\nsqlite +5 /)
  }, 90_000)
})
