/** The console's file route without a browser: which names it serves, and a missing build. */
import { HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { CONSOLE_CSP, consoleFile } from "../../src/http/WebConsole.js"

const dir = mkdtempSync(join(tmpdir(), "console-")) + "/"
writeFileSync(dir + "app.js", "console.log(1)")
writeFileSync(dir + "secret.txt", "not for the web")
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const bodyText = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : ""

describe("console files", () => {
  it("serves a built file with its type and the CSP", async () => {
    const response = await Effect.runPromise(consoleFile(dir, "app.js"))
    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toMatch(/javascript/)
    expect(response.headers["content-security-policy"]).toBe(CONSOLE_CSP)
    expect(bodyText(response)).toBe("console.log(1)")
  })

  it("a name outside the list is 404, even when the file exists", async () => {
    const response = await Effect.runPromise(consoleFile(dir, "secret.txt"))
    expect(response.status).toBe(404)
    expect(bodyText(response)).not.toMatch(/not for the web/)
  })

  it("a console that was not built is 503 console_not_built, saying how to build it", async () => {
    const response = await Effect.runPromise(consoleFile(dir, "index.html"))
    expect(response.status).toBe(503)
    const body = JSON.parse(bodyText(response))
    expect(body.error.code).toBe("console_not_built")
    expect(body.error.message).toMatch(/npm run build/)
  })
})
