/**
 * Operator mode in a real browser: join, approve a hook_before, answer an ask, submit by
 * hand; take a seat from a run page; take over a session by sid and token; a reload and
 * a dropped socket keep the session.
 */
import { describe, expect, it } from "vitest"
import { bearer, login, request, sessionTokens } from "../e2e/helpers.js"
import { launch, operatorBlueprint, waitRun } from "../e2e/routes-fixtures.js"
import { consoleSuite, json, text } from "./browser.js"

const s = consoleSuite()

describe("operator mode", () => {
  it("a dropped socket reconnects to the same session and the pending request can still be answered", { timeout: 45_000 }, async () => {
    const context = await s.browser.newContext({ viewport: { width: 1100, height: 900 } })
    const page = await context.newPage()
    s.track(page)
    // every operator socket goes through this route, so the test can cut it like a network drop
    const routes: Array<{ page: { close: (o: { code: number; reason: string }) => Promise<void> }; server: { close: () => Promise<void> } }> = []
    await page.routeWebSocket(/\/v1\/operators\/.*\/ws$/, (ws) => {
      const upstream = ws.connectToServer()
      routes.push({ page: ws, server: upstream })
    })
    await page.goto(`${s.server.url}/#/operator`)
    await page.getByRole("button", { name: "Join" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    sessionTokens.set(sid, (await page.locator("#operator-token").textContent())!)
    const launched = await launch(s.server, {
      blueprint: operatorBlueprint({}, { middleware: ["main_ai"] }),
      input: { task: "t" },
      operator_sid: sid
    })
    await page.getByRole("button", { name: "Approve" }).waitFor({ timeout: 10_000 })
    const first = routes[0]!
    await first.server.close()
    await first.page.close({ code: 1011, reason: "network dropped" })
    await expect.poll(() => routes.length, { timeout: 10_000 }).toBe(2)
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    expect(await page.locator("#operator-sid").textContent()).toBe(sid)
    expect((await request(s.server, "GET", "/v1/status")).json.sessions).toBeGreaterThanOrEqual(1)
    await page.getByRole("button", { name: "Refuse" }).click({ timeout: 10_000 })
    const run = await waitRun(s.server, launched.run_id, undefined, 10_000)
    expect(run.status).toBe("failed")
    expect(run.error.message).toMatch(/rejected/)
  })

  it("operator mode approves a hook_before, answers an ask, submits by hand, and the run finishes", { timeout: 45_000 }, async () => {
    const page = await s.open("#/operator")
    await page.getByRole("button", { name: "Join" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    const token = (await page.locator("#operator-token").textContent())!
    sessionTokens.set(sid, token)
    const launched = await launch(s.server, {
      blueprint: operatorBlueprint({}, { middleware: ["main_ai"] }),
      input: { task: "t" },
      operator_sid: sid
    })
    await page.getByRole("button", { name: "Approve" }).click({ timeout: 10_000 })
    // the spawn: the four lines carry the handle the sub-agent uses
    const lines = page.getByTestId("sub-agent-lines")
    await lines.waitFor({ timeout: 10_000 })
    const handle = /worker_handle: (\S+)/.exec((await lines.textContent())!)![1]!
    expect((await lines.textContent())!.split("\n")).toHaveLength(4)
    // the sub-agent asks mid-work; the page answers
    const asked = request(s.server, "POST", "/v1/worker/ask", json({ question: "which one?" }, handle))
    await page.getByLabel("Your answer (JSON, or plain text)").fill("\"the second\"", { timeout: 10_000 })
    await page.getByRole("button", { name: "Send answer" }).click()
    const answer = await asked
    expect(answer.status, answer.text).toBe(200)
    expect(answer.json).toEqual({ answer: "the second" })
    // the result by hand, through the worker routes, then spawn_ack
    await page.getByLabel("Or submit the result by hand").fill("{\"done\": true}")
    await page.getByRole("button", { name: "Submit result and finish the step" }).click()
    const run = await waitRun(s.server, launched.run_id, undefined, 10_000)
    expect(run.status).toBe("done")
    expect(run.steps[0].value).toEqual({ done: true })
    await expect.poll(text(page, "#requests-heading")).toBe("Pending requests (0)")
  })

  it("the page's operator takes an empty seat from the run page and gets the step's spawn", { timeout: 30_000 }, async () => {
    const launched = await launch(s.server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    const page = await s.open("#/operator")
    await page.getByRole("button", { name: "Join" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    await page.goto(`${s.server.url}/#/runs/${launched.run_id}`)
    await page.getByRole("button", { name: "Take this seat" }).click({ timeout: 10_000 })
    await expect.poll(() => page.locator("section[aria-labelledby=seats-heading] li").textContent(), { timeout: 10_000 })
      .toContain(sid)
    expect((await request(s.server, "GET", `/v1/runs/${launched.run_id}`)).json.seats.main.sid).toBe(sid)
    await page.goto(`${s.server.url}/#/operator`)
    await page.getByTestId("sub-agent-lines").waitFor({ timeout: 10_000 })
    expect(await page.locator("article.request").getAttribute("data-type")).toBe("spawn")
    await request(s.server, "POST", `/v1/runs/${launched.run_id}/cancel`)
  })

  it("operator mode takes over a session by sid and token; a wrong token is refused with a message", { timeout: 30_000 }, async () => {
    const op = await login(s.server, "pasted")
    const page = await s.open("#/operator")
    await page.getByLabel("Session id (sid)").fill(op.sid)
    await page.getByLabel("Token").fill("not-the-token")
    await page.getByRole("button", { name: "Connect" }).click()
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 }).toMatch(/wrong token for operator session/)
    expect(await page.locator("#operator-sid").count()).toBe(0)
    s.allow(/status of 401/) // the browser logs the refused request itself
    await page.getByLabel("Token").fill(op.token)
    await page.getByRole("button", { name: "Connect" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    expect(await page.locator("#operator-sid").textContent()).toBe(op.sid)
    const listed = await request(s.server, "GET", `/v1/operators/${op.sid}`, { headers: bearer(op.token) })
    expect(listed.json.connected).toBe(true)
  })

  it("a reload keeps the operator session; the pending request comes back and can be answered", { timeout: 45_000 }, async () => {
    const page = await s.open("#/operator")
    await page.getByRole("button", { name: "Join" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    sessionTokens.set(sid, (await page.locator("#operator-token").textContent())!)
    const launched = await launch(s.server, {
      blueprint: operatorBlueprint({}, { middleware: ["main_ai"] }),
      input: { task: "t" },
      operator_sid: sid
    })
    await page.getByRole("button", { name: "Approve" }).waitFor({ timeout: 10_000 })
    await page.reload()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    expect(await page.locator("#operator-sid").textContent()).toBe(sid)
    await page.getByRole("button", { name: "Refuse" }).click({ timeout: 10_000 })
    const run = await waitRun(s.server, launched.run_id, undefined, 10_000)
    expect(run.status).toBe("failed")
    expect(run.error.message).toMatch(/rejected/)
  })

})
