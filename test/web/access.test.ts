/**
 * The console for everyone: axe-core's checks (contrast included) on the overview, a run
 * page and operator mode; a keyboard-only walk with visible focus (open a run, cancel it,
 * join as the operator, approve, answer an ask); and a 375 px window where nothing
 * overflows and the key controls are on screen. One browser for the file.
 */
import axe from "axe-core"
import type { Page } from "playwright-core"
import { describe, expect, it } from "vitest"
import { bearer, request, sessionTokens } from "../e2e/helpers.js"
import { launch, operatorBlueprint, waitRun } from "../e2e/routes-fixtures.js"
import { consoleSuite, text } from "./browser.js"

const s = consoleSuite()

/** A stored blueprint (the run page shows its tree): a builtin step, then an operator step with main_ai. */
const putReviewBlueprint = async () => {
  const reply = await request(s.server, "PUT", "/v1/blueprints/access-review", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      operators: [{ name: "main" }],
      middleware: ["main_ai"],
      agents: [{ name: "draft", kind: "builtin", fn: "identity" }, { name: "coder", kind: "operator", operator: "main" }],
      flow: {
        kind: "seq",
        children: [
          { kind: "step", ref: "draft", in: { op: "path", at: "$.task" }, out: "$.draft" },
          { kind: "step", ref: "coder", in: { op: "path", at: "$.draft" }, out: "$.result" }
        ]
      }
    })
  })
  expect(reply.status, reply.text).toBe(200)
}

/** axe-core in the page (evaluated by the driver, so the page's CSP stays as it is); serious and critical findings. */
const axeFindings = async (page: Page): Promise<Array<string>> => {
  await page.evaluate(axe.source)
  const results = await page.evaluate(() => (window as any).axe.run(document, { resultTypes: ["violations"] }))
  return (results.violations as Array<axe.Result>)
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)
}

/** Tab until an element matching `selector` (and with text `label`, when given) has the focus; at most 60 presses. */
const tabTo = async (page: Page, selector: string, label?: string) => {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab")
    const reached = await page.evaluate(([s, l]) => {
      const el = document.activeElement
      return el !== null && el.matches(s!) && (l === undefined || el.textContent?.trim() === l)
    }, [selector, label] as const)
    if (reached) return
  }
  throw new Error(`Tab never reached ${selector} ${label ?? ""}`)
}

/** The focused element draws a visible focus ring. */
const focusVisible = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement
    const style = getComputedStyle(el)
    return el.matches(":focus-visible") && style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
  })

describe("accessibility", () => {
  it("axe finds no serious or critical problem on the overview, a run page and operator mode", { timeout: 45_000 }, async () => {
    await putReviewBlueprint()
    const page = await s.open("#/operator")
    await page.getByRole("button", { name: "Join" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    sessionTokens.set(sid, (await page.locator("#operator-token").textContent())!)
    const launched = await launch(s.server, { blueprint: "access-review", input: { task: "t".repeat(300) }, operator_sid: sid })
    await page.getByRole("button", { name: "Approve" }).waitFor({ timeout: 10_000 })
    expect(await axeFindings(page), "operator mode, a hook_before pending").toEqual([])
    await page.getByRole("button", { name: "Approve" }).click()
    await page.getByTestId("sub-agent-lines").waitFor({ timeout: 10_000 })
    expect(await axeFindings(page), "operator mode, a spawn pending").toEqual([])

    await page.goto(`${s.server.url}/#/runs/${launched.run_id}`)
    await page.locator(`li.node-step[data-ref="coder"] li.step`).waitFor({ timeout: 10_000 })
    await page.locator(".events li").nth(4).waitFor({ timeout: 10_000 })
    expect(await axeFindings(page), "run page").toEqual([])

    await page.goto(`${s.server.url}/#/`)
    await page.locator(`tr[data-run="${launched.run_id}"]`).waitFor({ timeout: 10_000 })
    await page.locator("ul.sessions li").first().waitFor({ timeout: 10_000 })
    expect(await axeFindings(page), "overview").toEqual([])
    await request(s.server, "POST", `/v1/runs/${launched.run_id}/cancel`)
  })

  it("works by keyboard alone with a visible focus: open a run, cancel it; join, approve, answer an ask", { timeout: 60_000 }, async () => {
    const waiting = await launch(s.server, { blueprint: operatorBlueprint(), input: { task: "t" } })
    const page = await s.open()
    await page.locator(`tr[data-run="${waiting.run_id}"]`).waitFor({ timeout: 10_000 })
    await tabTo(page, `a[href="#/runs/${waiting.run_id}"]`)
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press("Enter")
    await expect.poll(() => page.locator("h1").textContent(), { timeout: 10_000 }).toContain(waiting.run_id)
    const cancel = page.getByRole("button", { name: "Cancel run" })
    await expect.poll(() => cancel.isEnabled(), { timeout: 10_000 }).toBe(true)
    await tabTo(page, "button", "Cancel run")
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press("Enter")
    await expect.poll(text(page, "#run-status"), { timeout: 10_000 }).toBe("cancelled")
    expect((await request(s.server, "GET", `/v1/runs/${waiting.run_id}`)).json.status).toBe("cancelled")

    // operator mode from the navigation, by keyboard
    await tabTo(page, `nav a[href="#/operator"]`)
    await page.keyboard.press("Enter")
    await tabTo(page, "button", "Join")
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press("Enter")
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    sessionTokens.set(sid, (await page.locator("#operator-token").textContent())!)
    const launched = await launch(s.server, {
      blueprint: operatorBlueprint({}, { middleware: ["main_ai"] }),
      input: { task: "t" },
      operator_sid: sid
    })
    await page.getByRole("button", { name: "Approve" }).waitFor({ timeout: 10_000 })
    await tabTo(page, "button", "Approve")
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press("Enter")
    const lines = page.getByTestId("sub-agent-lines")
    await lines.waitFor({ timeout: 10_000 })
    const handle = /worker_handle: (\S+)/.exec((await lines.textContent())!)![1]!
    const asked = request(s.server, "POST", "/v1/worker/ask", {
      headers: { "content-type": "application/json", ...bearer(handle) },
      body: JSON.stringify({ question: "which one?" })
    })
    await page.getByLabel("Your answer (JSON, or plain text)").waitFor({ timeout: 10_000 })
    await tabTo(page, "textarea[id^=answer-]")
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.type("the second")
    await page.keyboard.press("Tab")
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Send answer")
    expect(await focusVisible(page)).toBe(true)
    await page.keyboard.press("Enter")
    const answer = await asked
    expect(answer.status, answer.text).toBe(200)
    expect(answer.json).toEqual({ answer: "the second" })
    await request(s.server, "POST", `/v1/runs/${launched.run_id}/cancel`)
    expect((await waitRun(s.server, launched.run_id)).status).toBe("cancelled")
  })

  it("on a 375 px window nothing overflows sideways and the key controls are on screen", { timeout: 45_000 }, async () => {
    await putReviewBlueprint()
    const page = await s.open("#/operator")
    await page.setViewportSize({ width: 375, height: 740 })
    await page.getByRole("button", { name: "Join" }).click()
    await expect.poll(text(page, "#operator-link"), { timeout: 10_000 }).toBe("connected")
    const sid = (await page.locator("#operator-sid").textContent())!
    sessionTokens.set(sid, (await page.locator("#operator-token").textContent())!)
    const launched = await launch(s.server, { blueprint: "access-review", input: { task: "long ".repeat(200) }, operator_sid: sid })
    const onScreen = async (what: string, locator: ReturnType<Page["locator"]>) => {
      await locator.scrollIntoViewIfNeeded({ timeout: 10_000 })
      const box = await locator.boundingBox()
      expect(box, what).not.toBeNull()
      expect(box!.x, what).toBeGreaterThanOrEqual(0)
      expect(box!.x + box!.width, what).toBeLessThanOrEqual(375)
      expect(await locator.isVisible(), what).toBe(true)
    }
    const noOverflow = async (where: string) => {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(overflow, where).toBeLessThanOrEqual(0)
    }
    await onScreen("Approve", page.getByRole("button", { name: "Approve" }))
    await onScreen("Refuse", page.getByRole("button", { name: "Refuse" }))
    await noOverflow("operator mode")

    await page.goto(`${s.server.url}/#/runs/${launched.run_id}`)
    await page.locator(`li.node-step[data-ref="coder"] li.step`).waitFor({ timeout: 10_000 })
    await onScreen("Cancel run", page.getByRole("button", { name: "Cancel run" }))
    await onScreen("the coder step", page.locator(`li.node-step[data-ref="coder"] li.step`))
    // a large value is collapsed, and opens in place
    const large = page.locator(`li.node-step[data-ref="draft"] details.value`)
    expect(await large.locator("summary").textContent()).toBe("value (1000 characters)")
    expect(await large.locator("pre").isVisible()).toBe(false)
    await large.locator("summary").click()
    expect(await large.locator("pre").isVisible()).toBe(true)
    await noOverflow("run page")

    await page.goto(`${s.server.url}/#/`)
    const link = page.locator(`tr[data-run="${launched.run_id}"] a`)
    await link.waitFor({ timeout: 10_000 })
    await onScreen("run link", link)
    await onScreen("running count", page.locator("#count-running"))
    await onScreen("Operator link", page.locator(`nav a[href="#/operator"]`))
    await noOverflow("overview")
    await request(s.server, "POST", `/v1/runs/${launched.run_id}/cancel`)
  })
})
