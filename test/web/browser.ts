/**
 * Browser-test helpers: Debian's headless Chromium (`/usr/bin/chromium`, installed by
 * `.ci/run`) driven by playwright-core, against a real server on an ephemeral port. The
 * console is built first, so the tests see the current sources.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { type Browser, chromium, type Page } from "playwright-core"

export const CHROMIUM = process.env["SWARMGATE_CHROMIUM"] ?? "/usr/bin/chromium"

export const buildConsole = () => {
  execFileSync(process.execPath, ["bin/build-web.mjs"], { stdio: "inherit" })
}

export const launchBrowser = async (): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set SWARMGATE_CHROMIUM`)
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] })
}

/** A fresh page (own storage) that fails the test on any console error or CSP violation. */
export const openPage = async (browser: Browser, url: string, problems: Array<string>): Promise<Page> => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  const page = await context.newPage()
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`)
  })
  await page.goto(url)
  return page
}
