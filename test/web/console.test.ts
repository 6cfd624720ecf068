/**
 * The web console in a real browser: the overview follows runs, a run page follows its
 * steps (the blueprint's tree, who a step waits on, a broken event stream), cancel and
 * resume from the page, a server that needs the API token. Operator mode: operator.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { bearer, connect, login, request, startServer } from "../e2e/helpers.js"
import { launch, operatorBlueprint, waitRun } from "../e2e/routes-fixtures.js"
import { consoleSuite, json, openPage, text } from "./browser.js"

const s = consoleSuite()

describe("web console", () => {
  it("serves the page with a CSP that the page satisfies", async () => {
    const page = await request(s.server, "GET", "/")
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toMatch(/text\/html/)
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/)
    const missing = await request(s.server, "GET", "/web/package.json")
    expect(missing.status).toBe(404)
    expect(missing.json.error.code).toBeTypeOf("string")
    const foreign = await request(s.server, "GET", "/", { headers: { origin: "http://evil.example" } })
    expect(foreign.status).toBe(403)
  })

  it("the overview updates when a run starts and when it ends", { timeout: 30_000 }, async () => {
    const page = await s.open()
    await expect.poll(text(page, "#count-running")).toBe("0")
    const launched = await launch(s.server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    await expect.poll(text(page, "#count-running"), { timeout: 10_000 }).toBe("1")
    const row = page.locator(`tr[data-run="${launched.run_id}"] .status`)
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toBe("running")
    expect((await request(s.server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toBe("cancelled")
    await expect.poll(text(page, "#count-running"), { timeout: 10_000 }).toBe("0")
  })

  it("a run page shows a step move from waiting to passed", { timeout: 30_000 }, async () => {
    const launched = await launch(s.server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    const page = await s.open(`#/runs/${launched.run_id}`)
    const step = page.locator("li.step .status")
    await expect.poll(() => step.first().textContent(), { timeout: 10_000 }).toBe("waiting_for_operator")
    // an operator takes the empty seat and its sub-agent submits
    const op = await login(s.server, "test operator")
    const client = await connect(s.server, op.sid, op.token)
    const seated = await request(s.server, "POST", `/v1/runs/${launched.run_id}/acquire`, json({ sid: op.sid, slot: "main" }, op.token))
    expect(seated.status, seated.text).toBe(200)
    const spawn = await client.waitFor((f) => f.type === "spawn")
    const submitted = await request(s.server, "POST", "/v1/worker/submit", {
      headers: { ...bearer(spawn.worker_handle), "content-type": "text/plain" },
      body: "the work"
    })
    expect(submitted.status, submitted.text).toBe(200)
    client.send({ type: "spawn_ack", req_id: spawn.req_id, ok: true, value: null })
    await expect.poll(() => step.first().textContent(), { timeout: 10_000 }).toBe("passed")
    await expect.poll(text(page, "#run-status"), { timeout: 10_000 }).toBe("done")
    await expect.poll(() => page.locator(".events li").allTextContents(), { timeout: 10_000 })
      .toEqual(expect.arrayContaining([expect.stringContaining("run_finished")]))
    client.close()
  })

  it("a run page shows a stored blueprint's tree: where each step sits and whom it waits on", { timeout: 30_000 }, async () => {
    const stored = await request(s.server, "PUT", "/v1/blueprints/console-tree", json({
      operators: [{ name: "main" }],
      agents: [
        { name: "draft", kind: "builtin", fn: "identity" },
        { name: "check", kind: "builtin", fn: "echo" },
        { name: "coder", kind: "operator", operator: "main" }
      ],
      flow: {
        kind: "seq",
        children: [
          { kind: "step", ref: "draft", in: { op: "path", at: "$.task" }, out: "$.draft" },
          {
            kind: "fanout", items: { op: "path", at: "$.parts" }, bind: "$.part", join: "all", out: "$.checks",
            body: { kind: "step", ref: "check", in: { op: "path", at: "$.part" }, out: "$.checked" }
          },
          { kind: "step", ref: "coder", in: { op: "path", at: "$.draft" }, out: "$.result" },
          { kind: "step", ref: "draft", in: { op: "path", at: "$.result" }, out: "$.final" }
        ]
      }
    }))
    expect(stored.status, stored.text).toBe(200)
    const launched = await launch(s.server, { blueprint: "console-tree", input: { task: "t", parts: ["a", "b"] } })
    const page = await s.open(`#/runs/${launched.run_id}`)
    const node = (ref: string) => page.locator(`li.node-step[data-ref="${ref}"]`)
    // the fanout's two branches sit under its one step node, inside the sequence
    await expect.poll(() => node("check").locator("li.step .status").allTextContents(), { timeout: 10_000 })
      .toEqual(["passed", "passed"])
    expect(await node("check").getAttribute("data-path")).toBe("$.flow.children[1].body")
    expect(await node("draft").locator("li.step .status").allTextContents()).toEqual(["passed"])
    // a short value shows inline
    expect(await node("check").locator("code.value").allTextContents())
      .toEqual([`{"agent":"check","input":"a"}`, `{"agent":"check","input":"b"}`])
    const coder = node("coder").locator("li.step")
    await expect.poll(() => coder.locator(".status").textContent(), { timeout: 10_000 }).toBe("waiting_for_operator")
    expect(await coder.getByTestId("waits").textContent()).toBe("waits for an operator to take seat main (empty)")
    // the last node uses the first one's agent: it has not run, and says what it waits for
    const last = page.locator(`li.node-step[data-path="$.flow.children[3]"]`)
    expect(await last.locator(".pending").textContent()).toBe("not started: runs after coder")
    // seated: the step now waits on the operator's sub-agent
    const op = await login(s.server, "tree operator")
    const client = await connect(s.server, op.sid, op.token)
    const seated = await request(s.server, "POST", `/v1/runs/${launched.run_id}/acquire`, json({ sid: op.sid, slot: "main" }, op.token))
    expect(seated.status, seated.text).toBe(200)
    const spawn = await client.waitFor((f) => f.type === "spawn")
    await expect.poll(() => coder.getByTestId("waits").textContent(), { timeout: 10_000 })
      .toBe(`waits on the sub-agent started by operator ${op.sid.slice(0, 12)}… (spawn ${spawn.req_id})`)
    const submitted = await request(s.server, "POST", "/v1/worker/submit", {
      headers: { ...bearer(spawn.worker_handle), "content-type": "text/plain" },
      body: "the work"
    })
    expect(submitted.status, submitted.text).toBe(200)
    client.send({ type: "spawn_ack", req_id: spawn.req_id, ok: true, value: null })
    await expect.poll(() => coder.locator(".status").textContent(), { timeout: 10_000 }).toBe("passed")
    expect(await coder.getByTestId("waits").count()).toBe(0)
    expect(await coder.textContent()).toContain("the work")
    await expect.poll(() => last.locator("li.step .status").allTextContents(), { timeout: 10_000 }).toEqual(["passed"])
    expect(await node("draft").first().locator("li.step").count()).toBe(1)
    client.close()
  })

  it("a run page shows an inline blueprint's tree, each step on the arm it ran", { timeout: 30_000 }, async () => {
    const arm = (out: string) => ({ kind: "step", ref: "id", in: { op: "path", at: "$.task" }, out })
    const launched = await launch(s.server, {
      blueprint: {
        agents: [{ name: "id", kind: "builtin", fn: "identity" }],
        flow: { kind: "branch", cond: { op: "path", at: "$.go" }, then: arm("$.then"), else: arm("$.else") }
      },
      input: { task: "t", go: false }
    })
    const page = await s.open(`#/runs/${launched.run_id}`)
    const onArm = (path: string) => page.locator(`li.node-step[data-path="${path}"] li.step .status`)
    // the same agent in both arms: the step sits on the else arm it ran, not the first node of its ref
    await expect.poll(() => onArm("$.flow.else").allTextContents(), { timeout: 10_000 }).toEqual(["passed"])
    expect(await onArm("$.flow.then").count()).toBe(0)
    expect(await page.locator(`ul.flow-root`).count()).toBe(1)
  })

  it("a run page follows the event stream again after it breaks, from the last event it saw", { timeout: 30_000 }, async () => {
    const launched = await launch(s.server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    const context = await s.browser.newContext({ viewport: { width: 1100, height: 900 } })
    const page = await context.newPage()
    s.track(page)
    // the first stream gives one event and breaks off; later ones go to the server
    const asked: Array<string | undefined> = []
    await page.route(`**/v1/runs/${launched.run_id}/events`, async (route) => {
      asked.push(route.request().headers()["last-event-id"])
      if (asked.length > 1) return route.continue()
      const first = { seq: 1, type: "run_started", run_id: launched.run_id, at: new Date().toISOString(), status: "running" }
      return route.fulfill({ status: 200, contentType: "text/event-stream", body: `event: run_started\nid: 1\ndata: ${JSON.stringify(first)}\n\n` })
    })
    await page.goto(`${s.server.url}/#/runs/${launched.run_id}`)
    await expect.poll(() => page.locator(".events li").allTextContents(), { timeout: 10_000 })
      .toEqual(expect.arrayContaining([expect.stringContaining("waiting_for_operator")]))
    expect(asked.slice(0, 2)).toEqual([undefined, "1"])
    expect((await request(s.server, "POST", `/v1/runs/${launched.run_id}/cancel`)).status).toBe(202)
    await expect.poll(() => page.locator(".events li").allTextContents(), { timeout: 10_000 })
      .toEqual(expect.arrayContaining([expect.stringContaining("run_finished")]))
    const types = await page.locator(".events li strong").allTextContents()
    expect(types.filter((t) => t === "run_started")).toHaveLength(1)
    expect(await page.getByRole("alert").count()).toBe(0)
    // a finished run's stream is not followed again
    await page.waitForTimeout(1500)
    expect(asked).toHaveLength(2)
  })

  it("cancel from the run page cancels the run", { timeout: 30_000 }, async () => {
    const launched = await launch(s.server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    const page = await s.open(`#/runs/${launched.run_id}`)
    const button = page.getByRole("button", { name: "Cancel run" })
    await expect.poll(() => button.isEnabled(), { timeout: 10_000 }).toBe(true)
    await button.click()
    await expect.poll(text(page, "#run-status"), { timeout: 10_000 }).toBe("cancelled")
    expect((await request(s.server, "GET", `/v1/runs/${launched.run_id}`)).json.status).toBe("cancelled")
    expect(await button.isDisabled()).toBe(true)
  })

  it("resume from the run page resumes a run a server stop interrupted", { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "console-resume-"))
    try {
      const first = await startServer({ memory: false, dataDir })
      const launched = await launch(first, { blueprint: operatorBlueprint(), input: { task: "t" } })
      await waitRun(first, launched.run_id, (r) => r.steps[0]?.status === "waiting_for_operator", 10_000)
      await first.close()
      const second = await startServer({ memory: false, dataDir })
      let page: Page | undefined
      try {
        page = await openPage(s.browser, `${second.url}/#/runs/${launched.run_id}`, s.problems)
        await expect.poll(text(page, "#run-status"), { timeout: 10_000 }).toBe("interrupted")
        const resume = page.getByRole("button", { name: "Resume run" })
        expect(await page.getByRole("button", { name: "Cancel run" }).isDisabled()).toBe(true)
        await resume.click()
        await expect.poll(text(page, "#run-status"), { timeout: 10_000 }).toBe("running")
        expect((await request(second, "GET", `/v1/runs/${launched.run_id}`)).json.status).toBe("running")
        expect(await resume.isDisabled()).toBe(true)
        await request(second, "POST", `/v1/runs/${launched.run_id}/cancel`)
      } finally {
        // the page goes first: its polls must not meet a closed server
        await page?.context().close()
        await second.close()
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("with an API token configured, the page works once the token is saved (runs, event stream, cancel)", { timeout: 45_000 }, async () => {
    const guarded = await startServer({ apiToken: "console-test-token" })
    try {
      const headers = { "content-type": "application/json", ...bearer("console-test-token") }
      const started = await request(guarded, "POST", "/v1/tasks", { headers, body: JSON.stringify({ blueprint: operatorBlueprint(), input: { task: "t" } }) })
      expect(started.status, started.text).toBe(202)
      const runId = started.json.run_id
      const page = await openPage(s.browser, `${guarded.url}/`, [])
      s.track(page)
      await expect.poll(() => page.getByRole("alert").first().textContent(), { timeout: 10_000 }).toMatch(/API token/)
      await page.getByText("API token (servers reached beyond loopback)").click()
      await page.getByLabel("API token, kept in this browser").fill("console-test-token")
      await page.getByRole("button", { name: "Save" }).click()
      await page.locator(`tr[data-run="${runId}"]`).waitFor({ timeout: 10_000 })
      await page.goto(`${guarded.url}/#/runs/${runId}`)
      await expect.poll(() => page.locator(".events li").allTextContents(), { timeout: 10_000 })
        .toEqual(expect.arrayContaining([expect.stringContaining("run_started")]))
      await page.getByRole("button", { name: "Cancel run" }).click()
      await expect.poll(text(page, "#run-status"), { timeout: 10_000 }).toBe("cancelled")
    } finally {
      await guarded.close()
    }
  })
})
