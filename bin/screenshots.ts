/**
 * `npm run screenshots`: starts a server in memory on an ephemeral port, makes two runs
 * (one finished; one of a stored blueprint waiting for an operator after a step and a fanout passed), and writes screenshots
 * of the overview and of the waiting run's page to docs/screenshots/ with Debian's
 * chromium (playwright-core, no browser download).
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { mkdirSync } from "node:fs"
import { chromium } from "playwright-core"
import { AppLive } from "../src/layers/App.js"

const executablePath = process.env["SWARMGATE_CHROMIUM"] ?? "/usr/bin/chromium"
const out = new URL("../docs/screenshots/", import.meta.url)
mkdirSync(out, { recursive: true })

const runtime = ManagedRuntime.make(
  AppLive({ host: "127.0.0.1", port: 0, memory: true }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
)
const port = await runtime.runPromise(Effect.map(HttpServer.HttpServer, (s) => (s.address._tag === "TcpAddress" ? s.address.port : 0)))
const base = `http://127.0.0.1:${port}`

const post = async (path: string, body: unknown) => {
  const r = await fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`)
  return r.json() as Promise<any>
}

const put = async (path: string, body: unknown) => {
  const r = await fetch(base + path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`)
}

// a stored blueprint, so the run page can show the flow's structure
await put("/v1/blueprints/release-review", {
  description: "draft, check every section at once, then a person reviews",
  operators: [{ name: "main" }],
  agents: [
    { name: "draft", kind: "builtin", fn: "identity" },
    { name: "check", kind: "builtin", fn: "echo" },
    { name: "reviewer", kind: "operator", operator: "main" }
  ],
  flow: {
    kind: "seq",
    children: [
      { kind: "step", ref: "draft", in: { op: "path", at: "$.text" }, out: "$.draft" },
      {
        kind: "fanout", items: { op: "path", at: "$.sections" }, bind: "$.section", join: "all", out: "$.checks",
        body: { kind: "step", ref: "check", in: { op: "path", at: "$.section" }, out: "$.checked" }
      },
      { kind: "step", ref: "reviewer", in: { op: "path", at: "$.draft" }, out: "$.review" }
    ]
  }
})
await post("/v1/tasks", {
  blueprint: { agents: [{ name: "id", kind: "builtin", fn: "identity" }], flow: { kind: "step", ref: "id", in: { op: "path", at: "$" }, out: "$.out" } },
  input: { hello: "world" },
  wait: true
})
const waiting = await post("/v1/tasks", {
  blueprint: "release-review",
  input: { text: "Release notes for 0.2: a web console, served at /.", sections: ["console", "api"] }
})

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] })
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
  await page.goto(base + "/")
  await page.locator(`tr[data-run="${waiting.run_id}"]`).waitFor()
  await page.screenshot({ path: new URL("overview.png", out).pathname, fullPage: true })
  await page.goto(`${base}/#/runs/${waiting.run_id}`)
  await page.locator("li.step .status-waiting_for_operator").waitFor()
  await page.locator(".events li").nth(7).waitFor()
  await page.screenshot({ path: new URL("run.png", out).pathname, fullPage: true })
} finally {
  await browser.close()
  await runtime.dispose()
}
console.log(`wrote ${new URL("overview.png", out).pathname} and run.png`)
