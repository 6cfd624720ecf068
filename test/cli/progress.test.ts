/** The progress display of `swarmgate run` and the help rewriting, without a process. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { rewriteHelp } from "../../src/cli/helpText.js"
import { makeProgress } from "../../src/cli/progress.js"

const events = [
  { type: "run_started" },
  { type: "step_started", step_id: "ST-1", ref: "planner", attempt: 1, status: "running" },
  { type: "request_sent", step_id: "ST-1", ref: "planner", kind: "spawn", req_id: "q1" }
]

describe("progress display", () => {
  it.scoped("plain lines off a terminal: one per change, with the elapsed time", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const progress = yield* makeProgress("R-1", { tty: false, write: (t) => void out.push(t) })
      yield* TestClock.adjust("1500 millis")
      for (const e of events) yield* progress.event(e)
      yield* progress.event({ type: "step_finished", step_id: "ST-1", ref: "planner", attempt: 1, status: "passed" })
      expect(out.join("")).toBe(
        "[1.5s] run R-1 started\n" +
          "[1.5s] step planner #1 running\n" +
          "[1.5s] request spawn for planner sent to the operator\n" +
          "[1.5s] step planner #1 passed\n"
      )
      expect(out.join("")).not.toMatch(/\x1b\[/)
    }))

  it.scoped("on a terminal: redrawn in place with steps, waiting requests and the clock; paused around a question", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const progress = yield* makeProgress("R-2", { tty: true, write: (t) => void out.push(t) })
      for (const e of events) yield* progress.event(e)
      const last = out.at(-1)!
      // cursor up over the previous drawing, clear, draw again
      expect(last.startsWith("\x1b[")).toBe(true)
      expect(last).toContain("run R-2  running  0.0s")
      expect(last).toContain("… planner          #1  running")
      expect(last).toContain("waiting: spawn for planner")
      yield* TestClock.adjust("2 seconds")
      expect(out.at(-1)).toContain("run R-2  running  2.0s")

      const before = out.length
      yield* progress.interlude(Effect.gen(function*() {
        yield* progress.note("quiet while asking")
        yield* TestClock.adjust("3 seconds")
      }))
      // nothing drawn during the question; afterwards a fresh drawing without moving up
      expect(out.length).toBe(before + 1)
      expect(out.at(-1)!.startsWith("run R-2")).toBe(true)
      expect(out.at(-1)).toContain("quiet while asking")
    }))
})

describe("help text", () => {
  const sample = "\x1b[1mUSAGE\x1b[0m\n\n$ put [--id ID] <file>\n\n--id ID\n\n  A user-defined piece of text.\n\n  store it under this id\n\n  This setting is optional.\n"
  it("usage lines start with swarmgate and the group, placeholders go, colour goes off a terminal", () => {
    const text = rewriteHelp(sample, false, "blueprint ")
    expect(text).toContain("swarmgate blueprint put [--id ID] <file>")
    expect(text).not.toContain("user-defined")
    expect(text).not.toContain("This setting is optional")
    expect(text).not.toMatch(/\x1b\[/)
    expect(rewriteHelp(sample, true, "")).toContain("\x1b[1mUSAGE")
    expect(rewriteHelp("$ swarmgate", false, "")).toBe("swarmgate <command> [options]")
  })
})
