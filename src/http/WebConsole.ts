/**
 * The web console (src/web) served at `/`: the page and its few built assets, read from
 * `dist/web` (built at install by `npm run build`). Both `src/http` and `dist/http` sit two
 * levels under the package root, so the same relative path finds the assets either way.
 * The page gets a Content-Security-Policy that allows only this origin: no inline script,
 * no CDN, and fetch/SSE/WebSocket only to this server.
 */
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { envelopeResponse } from "./errors.js"

export const CONSOLE_PATH = "/"
export const CONSOLE_ASSETS_PATH = "/web/:file"

const ASSET_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url))

/** The files the console build writes, and their content types: nothing else is served. */
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8"
}

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const headers = (contentType: string) => ({
  "content-type": contentType,
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache"
})

/** Read per request: cheap for three small files, and a rebuilt console shows at once. */
export const consoleFile = (dir: string, name: string) =>
  Effect.sync(() => {
    const contentType = ASSETS[name]
    if (contentType === undefined) {
      return envelopeResponse(404, "not_found", `the web console has no file ${JSON.stringify(name.slice(0, 100))}; open / instead`)
    }
    try {
      const body = readFileSync(dir + name)
      return HttpServerResponse.uint8Array(body, { headers: headers(contentType) })
    } catch {
      return envelopeResponse(
        503,
        "console_not_built",
        "the web console is not built in this install; run `npm run build` in the package directory, then reload"
      )
    }
  })

export const WebConsoleLive = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    yield* router.add("GET", CONSOLE_PATH, consoleFile(ASSET_DIR, "index.html"))
    yield* router.add(
      "GET",
      CONSOLE_ASSETS_PATH,
      Effect.gen(function*() {
        const { file } = yield* HttpLayerRouter.params
        return yield* consoleFile(ASSET_DIR, file ?? "")
      })
    )
  })
)
