/**
 * The examples, each run end to end as the README runs them: `swarmgate run --operator auto`
 * with `swarmgate worker --cmd examples/agent.sh` as the sub-agent, against `swarmgate serve`.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { CLI_TIMEOUT, cli, type ServeProcess, serveProcess } from "./cli-helpers.js"

let server: ServeProcess
beforeAll(async () => {
  server = await serveProcess()
}, CLI_TIMEOUT)
afterAll(() => server?.stop())

const runExample = (file: string) =>
  cli(
    ["run", `examples/${file}`, "--operator", "auto", "--approve", "all", "--exec", "swarmgate worker --cmd examples/agent.sh"],
    { SWARMGATE_URL: server.url }
  )

describe("examples through swarmgate run --operator auto", () => {
  it("review-loop, no-operator and subprocess-check all finish done, exit 0, result JSON on stdout", async () => {
    const [review, plain, sub] = await Promise.all([
      runExample("review-loop.json"),
      runExample("no-operator.json"),
      runExample("subprocess-check.json")
    ])

    expect(review.code, review.stderr).toBe(0)
    const reviewRun = JSON.parse(review.stdout)
    expect(reviewRun.status).toBe("done")
    // round 0 asks for a revision, round 1 approves
    expect(reviewRun.result.review).toBe("APPROVE")
    expect(reviewRun.result.round).toBe(2)
    const refs = reviewRun.steps.map((s: { ref: string }) => s.ref)
    expect(refs.filter((r: string) => r === "drafter")).toHaveLength(2)
    expect(refs.filter((r: string) => r === "reviewer")).toHaveLength(2)
    expect(refs.filter((r: string) => r === "reviser")).toHaveLength(1)
    expect(reviewRun.result.plan).toBe("planner did: add a --dry-run flag to the deploy script")
    // progress went to stderr as plain lines (not a terminal)
    expect(review.stderr).toMatch(/step planner #1 passed/)
    expect(review.stderr).not.toMatch(/\x1b\[/)

    expect(plain.code, plain.stderr).toBe(0)
    expect(JSON.parse(plain.stdout).result).toMatchObject({ loud: "ADA", greeting: { agent: "greet", input: "ada" } })

    expect(sub.code, sub.stderr).toBe(0)
    const subRun = JSON.parse(sub.stdout)
    expect(subRun.result.note).toMatch(/^writer did: /)
    expect(Number(subRun.result.words)).toBeGreaterThan(3)
  }, 4 * CLI_TIMEOUT)

  it("a failing sub-agent makes the run fail: exit 1, the failed run still printed as JSON", async () => {
    const failed = await cli(
      ["run", "examples/subprocess-check.json", "--approve", "all", "--exec", "swarmgate worker --cmd 'echo broken >&2; exit 3'"],
      { SWARMGATE_URL: server.url }
    )
    expect(failed.code).toBe(1)
    const run = JSON.parse(failed.stdout)
    expect(run.status).toBe("failed")
    expect(run.steps[0].status).toBe("blocked")
    expect(JSON.stringify(run.steps[0].value)).toContain("broken")
  }, 2 * CLI_TIMEOUT)
})
