/** `swarmgate serve` as a real child process (cli.md, quality.md S5). */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { WebSocket } from "ws"

const bin = fileURLToPath(new URL("../../bin/swarmgate.mjs", import.meta.url))

interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exit: Promise<number | null>
}

const start = (args: ReadonlyArray<string>): Running => {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exit }
}

const waitForAddress = async (running: Running, timeoutMs = 20_000): Promise<string> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/[^\s;,]+)/.exec(running.output())
    if (match) return match[1]!
    if (running.child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  running.child.kill("SIGKILL")
  throw new Error(`no listening line; output so far:\n${running.output()}`)
}

// each test starts up to four server processes one after another: give them time on a loaded machine
describe("swarmgate serve", { timeout: 120_000 }, () => {
  it("logs its address once, serves, and exits 0 on SIGTERM closing sockets with 1001", async () => {
    const running = start(["serve", "--memory", "--port", "0"])
    const base = await waitForAddress(running)
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(running.output().match(/listening on/g)).toHaveLength(1)
    expect(running.output()).not.toMatch(/not a loopback/)

    const health = await fetch(`${base}/v1/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ ok: true })

    const { sid, token } = await (await fetch(`${base}/v1/operators`, { method: "POST" })).json() as {
      sid: string
      token: string
    }
    const ws = new WebSocket(`${base.replace("http", "ws")}/v1/operators/${sid}/ws`, {
      headers: { authorization: `Bearer ${token}` }
    })
    await new Promise((resolve, reject) => {
      ws.once("open", resolve)
      ws.once("error", reject)
    })
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)))

    running.child.kill("SIGTERM")
    expect(await closed).toBe(1001)
    expect(await running.exit).toBe(0)
  })

  it("--data-dir without --memory says the state is in SQLite there; SIGINT exits 0", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "swarmgate-cli-")), "data")
    const running = start(["serve", "--port", "0", "--data-dir", dir])
    await waitForAddress(running)
    expect(running.output()).toContain(`state in SQLite at ${join(dir, "swarmgate.db")}`)
    running.child.kill("SIGINT")
    expect(await running.exit).toBe(0)
    rmSync(dir, { recursive: true, force: true })
  })

  it("finding 1: binding 0.0.0.0 without an API token refuses to start with one line saying how to set one", async () => {
    const refused = start(["serve", "--memory", "--host", "0.0.0.0", "--port", "0"])
    expect(await refused.exit).toBe(1)
    const lines = refused.output().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("--api-token")
    expect(lines[0]).toContain("SWARMGATE_API_TOKEN")
    expect(lines[0]).toContain("with --memory there is no data directory")
    expect(refused.output()).not.toMatch(/listening on/)
    const short = start(["serve", "--memory", "--port", "0", "--api-token", "short"])
    expect(await short.exit).toBe(1)
    expect(short.output()).toContain("at least 16 characters")
  }, 60_000)

  it("binding 0.0.0.0 with a data directory and no token: one is generated, stored 0600, shown once and kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "swarmgate-token-"))
    const file = join(dir, "api-token")
    const first = start(["serve", "--data-dir", dir, "--host", "0.0.0.0", "--port", "0"])
    const base = (await waitForAddress(first)).replace("0.0.0.0", "127.0.0.1")
    const token = readFileSync(file, "utf8").trim()
    expect(token.length).toBeGreaterThanOrEqual(16)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(first.output()).toContain(`stored it in ${file}; it is shown only this once: ${token}`)
    expect(first.output().split(token)).toHaveLength(2)
    expect((await fetch(`${base}/v1/runs`)).status).toBe(401)
    expect((await fetch(`${base}/v1/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    first.child.kill("SIGTERM")
    expect(await first.exit).toBe(0)

    // the next start keeps it and does not show it again
    const second = start(["serve", "--data-dir", dir, "--host", "0.0.0.0", "--port", "0"])
    const again = (await waitForAddress(second)).replace("0.0.0.0", "127.0.0.1")
    expect(second.output()).toContain(`using the API token stored in ${file}`)
    expect(second.output()).not.toContain(token)
    expect((await fetch(`${again}/v1/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    second.child.kill("SIGTERM")
    expect(await second.exit).toBe(0)

    // a damaged file is never replaced behind the user's back: one line saying what to do
    writeFileSync(file, "short\n")
    const damaged = start(["serve", "--data-dir", dir, "--host", "0.0.0.0", "--port", "0"])
    expect(await damaged.exit).toBe(1)
    expect(damaged.output().trim().split("\n")).toHaveLength(1)
    expect(damaged.output()).toContain(`the stored API token ${file} is damaged`)
    expect(damaged.output()).toContain("delete it to have a new one made, or pass --api-token")
    expect(readFileSync(file, "utf8")).toBe("short\n")
    rmSync(dir, { recursive: true, force: true })
  })

  it("binding 0.0.0.0 with an API token logs a warning naming the exposure; the token guards the run routes", async () => {
    const token = "a-token-of-enough-length-0123"
    const running = start(["serve", "--memory", "--host", "0.0.0.0", "--port", "0", "--api-token", token])
    // the listening line names 0.0.0.0, which is not a name the server answers to (421): use loopback
    const base = (await waitForAddress(running)).replace("0.0.0.0", "127.0.0.1")
    expect((await fetch(`${base}/v1/runs`)).status).toBe(401)
    expect((await fetch(`${base}/v1/runs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    const deadline = Date.now() + 5_000
    while (!/not a loopback/.test(running.output()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(running.output()).toMatch(/0\.0\.0\.0, not a loopback address/)
    expect(running.output()).toMatch(/subprocess agents run commands on this host/)
    expect(running.output()).not.toContain(token)
    expect(running.output()).toMatch(/WARN/)
    running.child.kill("SIGTERM")
    expect(await running.exit).toBe(0)
  })

  it("--public-url is reported; a bad one is one clear line and a non-zero exit", async () => {
    const running = start(["serve", "--memory", "--port", "0", "--public-url", "https://gate.example.com/"])
    await waitForAddress(running)
    expect(running.output()).toContain("public URL https://gate.example.com")
    running.child.kill("SIGTERM")
    expect(await running.exit).toBe(0)

    const bad = start(["serve", "--memory", "--port", "0", "--public-url", "not a url"])
    expect(await bad.exit).not.toBe(0)
    expect(bad.output()).toContain("--public-url")
    expect(bad.output()).not.toMatch(/\n\s+at /)
  })
  it("deadline and token-lifetime flags: a good one starts, a bad one (flag or env) is one clear line and exit 1", async () => {
    const good = start(["serve", "--memory", "--port", "0", "--spawn-timeout", "90 seconds", "--worker-token-ttl", "5 minutes"])
    await waitForAddress(good)
    good.child.kill("SIGTERM")
    expect(await good.exit).toBe(0)

    const badFlag = start(["serve", "--memory", "--port", "0", "--spawn-timeout", "soon"])
    expect(await badFlag.exit).toBe(1)
    expect(badFlag.output()).toContain("--spawn-timeout (or env SWARMGATE_SPAWN_TIMEOUT) must be a positive duration")
    expect(badFlag.output()).toContain("\"soon\"")
    expect(badFlag.output()).not.toMatch(/\n\s+at /)

    const child = spawn(process.execPath, [bin, "serve", "--memory", "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SWARMGATE_ASK_TIMEOUT: "-5" }
    })
    let output = ""
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect(code).toBe(1)
    expect(output).toContain("SWARMGATE_ASK_TIMEOUT")
  })
})
