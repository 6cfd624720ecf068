import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import type { SubprocessAgent } from "../../src/protocol/blueprint.js"
import { runSubprocess } from "../../src/services/agents/subprocess.js"
import { Runs } from "../../src/services/Runs.js"
import { blueprint, step, testLayer } from "./harness.js"

const node = (script: string, extra: Partial<SubprocessAgent> = {}): SubprocessAgent => ({
  name: "proc",
  kind: "subprocess",
  command: [process.execPath, "-e", script],
  ...extra
})

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// a child that writes its pid to $PIDFILE and would otherwise live for a minute
const lingering = `require("fs").writeFileSync(process.env.PIDFILE, String(process.pid)); setTimeout(() => {}, 60000)`

const pidFile = () => join(mkdtempSync(join(tmpdir(), "swarmgate-")), "pid")

/** Real time: the child is a real process. */
const waitForPid = (file: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (existsSync(file) && readFileSync(file, "utf8") !== "") return Number(readFileSync(file, "utf8"))
      yield* Effect.sleep(Duration.millis(25))
    }
    return yield* Effect.dieMessage("the child never wrote its pid")
  })

describe("subprocess agents", () => {
  it.live("exit 0 passes; the input arrives on stdin as text", () =>
    Effect.gen(function*() {
      const out = yield* runSubprocess(
        node(`let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write("got:"+s+"\\n"))`),
        "plain words"
      )
      expect(out.status).toBe("passed")
      expect(out.value).toBe("got:plain words")
      expect(out.stats).toMatchObject({ exit_code: 0 })
    }))

  it.live("JSON stdout is parsed; object input goes in as JSON", () =>
    Effect.gen(function*() {
      const out = yield* runSubprocess(
        node(`let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify({seen: JSON.parse(s)})))`),
        { a: [1, 2] }
      )
      expect(out).toMatchObject({ status: "passed", value: { seen: { a: [1, 2] } } })
    }))

  it.live("fenced JSON stdout is parsed", () =>
    Effect.gen(function*() {
      const out = yield* runSubprocess(node("console.log('```json\\n{\"ok\": true}\\n```\\nsome notes')", { stdin: false }), null)
      expect(out).toMatchObject({ status: "passed", value: { ok: true } })
    }))

  it.live("a non-zero exit blocks with stderr in the error", () =>
    Effect.gen(function*() {
      const out = yield* runSubprocess(
        node(`console.log("partial"); console.error("lint: 3 problems"); process.exit(3)`, { stdin: false }),
        null
      )
      expect(out.status).toBe("blocked")
      expect(out.error).toContain("exit code 3")
      expect(out.error).toContain("lint: 3 problems")
      expect(out.value).toBe("partial")
    }))

  it.live("cwd and env are applied", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "swarmgate-cwd-"))
      const out = yield* runSubprocess(
        node(`console.log(JSON.stringify({cwd: process.cwd(), v: process.env.SG_TEST}))`, {
          cwd: dir,
          env: { SG_TEST: "yes" },
          stdin: false
        }),
        null
      )
      expect(out.value).toMatchObject({ v: "yes" })
      expect(String((out.value as { cwd: string }).cwd)).toContain("swarmgate-cwd-")
    }))

  it.live("a missing executable fails the step", () =>
    Effect.gen(function*() {
      const out = yield* runSubprocess({ name: "x", kind: "subprocess", command: ["/nonexistent/tool-xyz"] }, null)
      expect(out.status).toBe("failed")
      expect(out.error).toContain("cannot start")
    }))

  it.live("the timeout kills the process", () =>
    Effect.gen(function*() {
      const file = pidFile()
      const fiber = yield* Effect.fork(runSubprocess(node(lingering, { timeout_ms: 1500, stdin: false, env: { PIDFILE: file } }), null))
      const pid = yield* waitForPid(file)
      expect(isAlive(pid)).toBe(true)
      const out = yield* Fiber.join(fiber)
      expect(out.status).toBe("failed")
      expect(out.error).toContain("timed out after 1500 ms")
      expect(isAlive(pid)).toBe(false)
    }))

  it.scopedLive("cancelling the run kills the process", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const file = pidFile()
      const agent = node(lingering, { stdin: false, env: { PIDFILE: file } })
      const { run_id } = yield* runs.launch({ blueprint: blueprint([agent], step("proc", "$", "$.out")) })
      const pid = yield* waitForPid(file)
      expect(isAlive(pid)).toBe(true)
      yield* runs.cancel(run_id)
      expect(isAlive(pid)).toBe(false)
      const run = yield* runs.get(run_id)
      expect(run.status).toBe("cancelled")
      expect(run.steps.map((s) => s.status)).toEqual(["cancelled"])
    }).pipe(Effect.provide(testLayer())))

  it.scopedLive("a subprocess step inside a run passes its parsed stdout to the context", () =>
    Effect.gen(function*() {
      const runs = yield* Runs
      const agent = node(`let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify([s.length])))`)
      const { run_id } = yield* runs.launch({ blueprint: blueprint([agent], step("proc", "$.text", "$.len")), input: { text: "abcd" } })
      const run = yield* runs.awaitEnd(run_id)
      expect(run.status).toBe("done")
      expect(run.result).toEqual({ text: "abcd", len: [4] })
    }).pipe(Effect.provide(testLayer())))
})
