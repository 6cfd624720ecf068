/** `GET /v1/metrics` (docs/http.md, Metrics): Prometheus text from Effect's metrics, read over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Layer, Logger, LogLevel } from "effect"
import { request, type TestServer } from "../e2e/helpers.js"
import { launch, ScriptedOperator } from "../e2e/scenarios/operator-client.js"
import { oneOperatorStep, startWith } from "./harness.js"

let server: TestServer
beforeAll(async () => {
  server = await startWith(Layer.merge(Logger.minimumLogLevel(LogLevel.Warning), Layer.empty))
})
afterAll(() => server.close())

/** The value of the sample `name{labels}`; labels given in any order. */
const sample = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue
    const labelText = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? ""
    const has = Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))
    if (has) return Number(line.slice(line.lastIndexOf(" ") + 1))
  }
  return undefined
}

const scrape = async () => {
  const reply = await request(server, "GET", "/v1/metrics")
  expect(reply.status).toBe(200)
  expect(reply.headers.get("content-type")).toMatch(/^text\/plain/)
  return reply.text
}

describe("GET /v1/metrics", () => {
  it("counts sessions, runs, steps, request round trips and HTTP requests after an operator step", async () => {
    const secrets = await oneOperatorStep(server, "observe-metrics")
    await request(server, "GET", `/v1/runs/${secrets.runId}`)
    const text = await scrape()
    expect(text).toMatch(/^# HELP swarmgate_runs_ended_total /m)
    expect(text).toMatch(/^# TYPE swarmgate_step_duration_seconds histogram$/m)
    expect(sample(text, "swarmgate_sessions", { state: "all" })).toBeGreaterThanOrEqual(1)
    expect(sample(text, "swarmgate_sessions", { state: "connected" })).toBe(0)
    expect(sample(text, "swarmgate_runs_running")).toBe(0)
    expect(sample(text, "swarmgate_runs_ended_total", { status: "done" })).toBeGreaterThanOrEqual(1)
    expect(sample(text, "swarmgate_step_duration_seconds_count", { ref: "worker", status: "passed" }))
      .toBeGreaterThanOrEqual(1)
    expect(sample(text, "swarmgate_operator_request_duration_seconds_count", { kind: "spawn", outcome: "ok" }))
      .toBeGreaterThanOrEqual(1)
    expect(sample(text, "swarmgate_operator_request_duration_seconds_count", { kind: "hook_before", outcome: "ok" }))
      .toBeGreaterThanOrEqual(1)
    // the route pattern, never the concrete id
    expect(sample(text, "swarmgate_http_requests_total", { route: "/v1/runs/:id", method: "GET", status: "200" }))
      .toBeGreaterThanOrEqual(1)
    expect(text).not.toContain(secrets.runId)
    expect(text).not.toContain(secrets.sessionToken)
  })

  it("shows a pending request by kind and a connected session while the operator has not answered", async () => {
    const op = await ScriptedOperator.login(server, { desc: "pending" })
    await request(server, "PUT", "/v1/blueprints/observe-pending", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        operators: [{ name: "lead" }],
        agents: [{ name: "worker", kind: "operator", operator: "lead" }],
        middleware: ["main_ai"],
        flow: { kind: "step", ref: "worker", in: { op: "path", at: "$" }, out: "$.answer" }
      })
    })
    const launched = await launch(server, { blueprint: "observe-pending", input: {}, operator_sid: op.sid })
    await op.waitType("hook_before")
    const text = await scrape()
    expect(sample(text, "swarmgate_pending_requests", { kind: "hook_before" })).toBe(1)
    expect(sample(text, "swarmgate_pending_requests", { kind: "ask" })).toBe(0)
    expect(sample(text, "swarmgate_sessions", { state: "connected" })).toBe(1)
    expect(sample(text, "swarmgate_runs_running")).toBe(1)
    await request(server, "POST", `/v1/runs/${launched.run_id}/cancel`)
    await op.close()
  })

  it("counts unknown routes under one label", async () => {
    await request(server, "GET", "/v1/no-such-route/abc")
    const text = await scrape()
    expect(sample(text, "swarmgate_http_requests_total", { route: "unmatched", status: "404" })).toBeGreaterThanOrEqual(1)
    expect(text).not.toContain("no-such-route")
  })
})
