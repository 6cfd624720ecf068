/**
 * Browser-test helpers: Debian's headless Chromium (`/usr/bin/chromium`, installed by
 * `.ci/run`) driven by playwright-core, against a real server on an ephemeral port. The
 * console is built first, so the tests see the current sources.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, afterEach, beforeAll, expect } from "vitest"
import { bearer, type TestServer, startServer } from "../e2e/helpers.js"

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
  watch(page, problems)
  await page.goto(url)
  return page
}

const watched = new WeakSet<Page>()
const watch = (page: Page, problems: Array<string>) => {
  watched.add(page)
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`)
  })
}

export const text = (page: Page, selector: string) => () => page.locator(selector).first().textContent()

export const json = (body: unknown, token?: string) => ({
  headers: { "content-type": "application/json", ...(token ? bearer(token) : {}) },
  body: JSON.stringify(body)
})

/**
 * One server and one browser for a test file. Each test's pages are closed after it, and
 * any error in their consoles fails it, except the browser's own 404s (favicon) and what
 * the test `allow`s.
 */
export interface ConsoleSuite {
  readonly server: TestServer
  readonly browser: Browser
  readonly problems: Array<string>
  /** A fresh page at `hash` of the suite's server. */
  readonly open: (hash?: string) => Promise<Page>
  /** Closes `page` with the test's other pages. */
  readonly track: (page: Page) => Page
  /** Console errors matching `pattern` do not fail this test. */
  readonly allow: (pattern: RegExp) => void
}

export const consoleSuite = (): ConsoleSuite => {
  let server: TestServer | undefined
  let browser: Browser | undefined
  const problems: Array<string> = []
  const pages: Array<Page> = []
  const allowed: Array<RegExp> = [/favicon|404/]
  beforeAll(async () => {
    buildConsole()
    server = await startServer()
    browser = await launchBrowser()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.context().close()
    const real = problems.splice(0).filter((p) => !allowed.some((a) => a.test(p)))
    allowed.splice(1)
    expect(real).toEqual([])
  })
  const track = (page: Page) => {
    pages.push(page)
    if (!watched.has(page)) watch(page, problems)
    return page
  }
  return {
    get server() { return server! },
    get browser() { return browser! },
    problems,
    open: async (hash = "") => track(await openPage(browser!, `${server!.url}/${hash}`, problems)),
    track,
    allow: (pattern) => void allowed.push(pattern)
  }
}
