/**
 * Every command of the command line as a child process against `swarmgate serve`: help,
 * tables and `--json`, the operator at a terminal, and each user mistake as one line and a
 * non-zero exit with no stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CLI_TIMEOUT, cli, oneLine, type ServeProcess, serveProcess, start, waitFor } from "./cli-helpers.js"

let server: ServeProcess
let env: Record<string, string>
const dir = mkdtempSync(join(tmpdir(), "swarmgate-cli-"))
const file = (name: string, content: unknown) => {
  const path = join(dir, name)
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content))
  return path
}

beforeAll(async () => {
  server = await serveProcess()
  env = { SWARMGATE_URL: server.url }
}, CLI_TIMEOUT)
afterAll(() => server?.stop())

const badBlueprint = {
  agents: [{ name: "a", kind: "operator", operator: "nobody" }, { name: "b", kind: "wizard" }],
  flow: { kind: "step", ref: "zzz", in: { op: "path", at: "$" }, out: "$.x" }
}
const napBlueprint = {
  id: "nap",
  agents: [{ name: "nap", kind: "builtin", fn: "sleep" }],
  flow: { kind: "step", ref: "nap", in: { op: "path", at: "$.nap" }, out: "$.slept" }
}

describe("help", () => {
  it("run --help prints run's help: usage as `swarmgate run`, defaults, no placeholders, no colour off a terminal", async () => {
    const [runHelp, rootHelp, putHelp] = await Promise.all([
      cli(["run", "--help"]),
      cli(["--help"]),
      cli(["blueprint", "put", "--help"])
    ])
    expect(runHelp.code).toBe(0)
    expect(runHelp.stdout).toMatch(/^swarmgate run \[--input JSON\|@file\]/m)
    expect(runHelp.stdout).toContain("--detach")
    expect(runHelp.stdout).toContain("(default: env SWARMGATE_URL, else http://127.0.0.1:7777)")
    expect(runHelp.stdout).toContain("(default: ask)")
    for (const out of [runHelp.stdout, rootHelp.stdout, putHelp.stdout]) {
      expect(out).not.toMatch(/\x1b\[/)
      expect(out).not.toContain("A user-defined piece of text")
      expect(out).not.toContain("This setting is optional")
      expect(out).not.toMatch(/^\$ /m)
    }
    expect(rootHelp.stdout).toMatch(/^swarmgate <command> \[options\]$/m)
    for (const name of ["serve", "run", "operator", "worker", "runs", "show", "cancel", "resume", "blueprint", "sessions"]) {
      expect(rootHelp.stdout).toMatch(new RegExp(`- ${name} `))
    }
    expect(putHelp.stdout).toMatch(/^swarmgate blueprint put /m)
  }, 2 * CLI_TIMEOUT)
})

describe("user mistakes: one line, non-zero exit, no stack trace", () => {
  it("server not running, unknown run, invalid blueprint, bad --input, unreadable @file and more", async () => {
    const bad = file("bad.json", badBlueprint)
    const notJson = file("broken.json", "{ \"agents\": [")
    const results = await Promise.all([
      cli(["runs", "--server", "http://127.0.0.1:9"]),
      cli(["show", "R-0000000000000000"], env),
      cli(["run", bad], env),
      cli(["run", "examples/no-operator.json", "--input", "{nope"], env),
      cli(["run", "examples/no-operator.json", "--input", `@${join(dir, "missing.json")}`], env),
      cli(["run", join(dir, "nowhere.json")], env),
      cli(["run", notJson], env),
      cli(["run", "no-such-blueprint"], env),
      cli(["run", "examples/no-operator.json", "--operator", "bogus"], env),
      cli(["worker", "--cmd", "cat"], { ...env, SWARMGATE_WORKER_HANDLE: "" }),
      cli(["cancel", "R-0000000000000000"], env),
      cli(["runs"], { SWARMGATE_URL: "" })
    ])
    const [
      down,
      unknownRun,
      invalid,
      badInput,
      unreadable,
      noFile,
      brokenFile,
      unknownBlueprint,
      badOperator,
      noHandle,
      cancelUnknown,
      badServer
    ] = results
    for (const r of results) {
      expect(r.code, r.stderr).not.toBe(0)
      expect(oneLine(r.stderr), r.stderr).toBe(true)
      expect(r.stderr).toMatch(/^swarmgate: /)
    }
    expect(down.stderr).toContain("cannot reach a swarmgate server at http://127.0.0.1:9")
    expect(down.stderr).toContain("swarmgate serve")
    expect(unknownRun.stderr).toContain("R-0000000000000000")
    expect(unknownRun.stderr).toContain("swarmgate runs")
    expect(invalid.stderr).toContain("swarmgate blueprint validate")
    expect(badInput.stderr).toContain("--input is not valid JSON")
    expect(unreadable.stderr).toMatch(/cannot read --input file .*missing\.json: no such file/)
    expect(noFile.stderr).toMatch(/cannot read blueprint file .*nowhere\.json: no such file/)
    expect(brokenFile.stderr).toContain("is not valid JSON")
    expect(unknownBlueprint.stderr).toContain("swarmgate blueprint list")
    expect(badOperator.stderr).toContain("--operator must be auto, none or an operator session id")
    expect(noHandle.stderr).toContain("SWARMGATE_WORKER_HANDLE")
    expect(cancelUnknown.stderr).toContain("swarmgate runs")
    expect(badServer.stderr).toContain("--server (or env SWARMGATE_URL) must be an http(s) URL")
  }, 3 * CLI_TIMEOUT)

  it("blueprint validate prints every problem with its JSON path and exits 1; a good one exits 0", async () => {
    const [bad, good, json] = await Promise.all([
      cli(["blueprint", "validate", file("bad2.json", badBlueprint)]),
      cli(["blueprint", "validate", "examples/review-loop.json"]),
      cli(["blueprint", "validate", "--json", file("bad3.json", badBlueprint)])
    ])
    expect(bad.code).toBe(1)
    const lines = bad.stdout.trim().split("\n")
    expect(lines.length).toBeGreaterThanOrEqual(3)
    for (const line of lines) expect(line).toMatch(/^\$[.[\w\]"]*: /)
    expect(bad.stdout).toContain("$.agents[1]")
    expect(bad.stdout).toContain("$.flow")
    expect(good.code).toBe(0)
    expect(good.stdout).toContain("a valid blueprint")
    expect(json.code).toBe(1)
    const doc = JSON.parse(json.stdout)
    expect(doc.valid).toBe(false)
    expect(doc.problems.length).toBe(lines.length)
  }, 2 * CLI_TIMEOUT)
})

describe("inspection and control", () => {
  it("blueprint put/list/show, run by id, runs, show, cancel, resume: tables by default, --json for one document", async () => {
    const put = await cli(["blueprint", "put", "examples/no-operator.json"], env)
    expect(put.code, put.stderr).toBe(0)
    expect(put.stdout.trim()).toBe("stored blueprint no-operator version 1")
    const putNap = await cli(["blueprint", "put", file("nap.json", napBlueprint), "--json"], env)
    expect(JSON.parse(putNap.stdout)).toEqual({ id: "nap", version: 1 })

    const [list, listJson, shown, ran, napped] = await Promise.all([
      cli(["blueprint", "list"], env),
      cli(["blueprint", "list", "--json"], env),
      cli(["blueprint", "show", "no-operator"], env),
      cli(["run", "no-operator", "--input", "{\"name\": \"bo\"}"], env),
      cli(["run", "nap", "--input", "{\"nap\": {\"ms\": 600000}}", "--detach"], env)
    ])
    expect(list.stdout).toMatch(/^ID\s+VERSION\s+UPDATED$/m)
    expect(list.stdout).toMatch(/^no-operator\s+1\s+/m)
    expect(JSON.parse(listJson.stdout).blueprints.map((b: { id: string }) => b.id).sort()).toEqual(["nap", "no-operator"])
    expect(JSON.parse(shown.stdout).agents[0].name).toBe("greet")
    expect(ran.code, ran.stderr).toBe(0)
    const done = JSON.parse(ran.stdout)
    expect(done.result.loud).toBe("BO")
    expect(napped.code, napped.stderr).toBe(0)
    const detached = JSON.parse(napped.stdout)
    expect(detached.status).toBe("running")

    const [runs, runsJson, show, showJson] = await Promise.all([
      cli(["runs"], env),
      cli(["runs", "--json", "--status", "running"], env),
      cli(["show", done.run_id], env),
      cli(["show", done.run_id, "--json"], env)
    ])
    expect(runs.stdout).toMatch(/^RUN\s+STATUS\s+TASK\s+CREATED\s+FINISHED$/m)
    expect(runs.stdout).toMatch(new RegExp(`^${done.run_id}\\s+done\\s+`, "m"))
    expect(JSON.parse(runsJson.stdout).runs.map((r: { run_id: string }) => r.run_id)).toEqual([detached.run_id])
    expect(show.stdout).toMatch(/^status\s+done$/m)
    expect(show.stdout).toMatch(/^ST-\S+\s+greet\s+1\s+passed\s+/m)
    expect(JSON.parse(showJson.stdout).run_id).toBe(done.run_id)

    const cancelled = await cli(["cancel", detached.run_id], env)
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect(cancelled.stdout.trim()).toBe(`run ${detached.run_id} cancelled`)
    const [again, resume] = await Promise.all([
      cli(["cancel", detached.run_id], env),
      cli(["resume", detached.run_id], env)
    ])
    expect(again.code).toBe(1)
    expect(oneLine(again.stderr)).toBe(true)
    expect(again.stderr).toContain("only a running run can be cancelled")
    expect(resume.code).toBe(1)
    expect(oneLine(resume.stderr)).toBe(true)
  }, 4 * CLI_TIMEOUT)
})

describe("swarmgate operator", () => {
  it("a person at the terminal approves the hook and types the result; sessions lists it; Ctrl-C leaves", async () => {
    const op = start(["operator", "--desc", "terminal tester"], env)
    const [, sid, token] = await waitFor(op.stderr, /SWARMGATE_OPERATOR_TOKEN=([0-9a-f]+) swarmgate run <blueprint> --operator (S-[0-9a-f]+)/, op)
      .then((m) => [m[0], m[2]!, m[1]!] as const)
    // what the person types: approve the hook_before, then the result of the spawn
    op.child.stdin!.write("y\nthree little words\n")

    const sessions = await cli(["sessions"], env)
    expect(sessions.stdout).toMatch(/^SID\s+CONNECTED\s+PENDING/m)
    expect(sessions.stdout).toMatch(new RegExp(`^${sid}\\s+yes\\s+0\\s+.*terminal tester$`, "m"))
    expect(sessions.stdout).not.toContain("listing")

    const ran = await cli(["run", "examples/subprocess-check.json", "--operator", sid], {
      ...env,
      SWARMGATE_OPERATOR_TOKEN: token
    })
    expect(ran.code, ran.stderr).toBe(0)
    const run = JSON.parse(ran.stdout)
    expect(run.result.note).toBe("three little words")
    expect(run.result.words.trim()).toBe("3")
    expect(op.stderr()).toContain("start agent writer (attempt 1)")
    expect(op.stderr()).toContain("prompt: {\"topic\":\"why the build is slow\"}")

    op.child.kill("SIGINT")
    expect((await op.exit).code).toBe(0)
    const after = await cli(["sessions", "--json"], env)
    expect(JSON.parse(after.stdout).operators.map((o: { sid: string }) => o.sid)).not.toContain(sid)
  }, 4 * CLI_TIMEOUT)

  it("--operator SID without its token is one line naming SWARMGATE_OPERATOR_TOKEN", async () => {
    const r = await cli(["run", "examples/subprocess-check.json", "--operator", `S-${"0".repeat(32)}`], env)
    expect(r.code).toBe(1)
    expect(oneLine(r.stderr)).toBe(true)
    expect(r.stderr).toContain("SWARMGATE_OPERATOR_TOKEN")
  }, CLI_TIMEOUT)
})

describe("swarmgate run, stopped", () => {
  it("Ctrl-C while its in-process operator waits at the terminal cancels the run", async () => {
    const running = start(["run", "examples/subprocess-check.json"], env)
    const [, runId] = await waitFor(running.stderr, /run (R-[0-9a-f]+) started/, running)
    await waitFor(running.stderr, /start agent writer \(attempt 1\)/, running)
    running.child.kill("SIGINT")
    const ended = await running.exit
    expect(ended.stderr).toContain(`stopped: run ${runId} cancelled`)
    const show = await cli(["show", runId!, "--json"], env)
    expect(JSON.parse(show.stdout).status).toBe("cancelled")
  }, 2 * CLI_TIMEOUT)
})
