/** The lean worker path claims exactly the ordinary case of the five worker routes; everything else is the platform's. */
import { describe, expect, it } from "@effect/vitest"
import { leanRoutes, makeClaim } from "../../src/http/leanWorker.js"
import { makeServerConfig } from "../../src/layers/ServerConfig.js"

const claim = makeClaim(makeServerConfig({ port: 7777 }))
const head = (extra: Record<string, string | undefined> = {}) => ({
  host: "127.0.0.1:7777",
  authorization: "Bearer wh-aaaaaaaaaaaa",
  ...extra
})
const json = (extra: Record<string, string | undefined> = {}) =>
  head({ "content-type": "application/json", "content-length": "20", ...extra })

describe("makeClaim", () => {
  it("the routes are the declaration's five worker endpoints", () => {
    expect([...leanRoutes.entries()].sort()).toEqual([
      ["GET /v1/worker/prompt", "prompt"],
      ["POST /v1/worker/artifact", "artifact"],
      ["POST /v1/worker/ask", "ask"],
      ["POST /v1/worker/result", "result"],
      ["POST /v1/worker/submit", "submit"]
    ])
  })

  it("claims the ordinary case of each, with its decoded url params", () => {
    expect(claim("GET", "/v1/worker/prompt?task_id=ST-1", head())).toEqual({
      route: "prompt",
      path: "/v1/worker/prompt",
      token: "wh-aaaaaaaaaaaa",
      urlParams: { task_id: "ST-1" }
    })
    expect(claim("POST", "/v1/worker/ask", json())?.route).toBe("ask")
    expect(claim("POST", "/v1/worker/result", json({ "content-type": "application/json; charset=utf-8" }))?.route).toBe("result")
    expect(claim("POST", "/v1/worker/result", head())?.route).toBe("result") // no body: HttpApi reads it as JSON
    expect(claim("POST", "/v1/worker/submit?verdict=skip&ok=false", head({ "content-type": "text/plain" }))?.urlParams)
      .toEqual({ verdict: "skip", ok: false })
    expect(claim("POST", "/v1/worker/artifact?name=log", head({ "content-length": "3" }))?.urlParams).toEqual({ name: "log" })
  })

  it("hands to the platform whatever it would refuse or read differently before the body", () => {
    const refused: Array<[string, string, Record<string, string | undefined>]> = [
      ["HEAD", "/v1/worker/prompt", head()],
      ["GET", "/v1/worker/ask", head()],
      ["POST", "/v1/worker/asks", json()],
      ["POST", "/v1/worker/ask/", json()],
      ["POST", "/v1/worker/ask", json({ authorization: undefined })],
      ["POST", "/v1/worker/ask", json({ authorization: "wh-aaaaaaaaaaaa" })],
      ["POST", "/v1/worker/ask", json({ host: "evil.example" })],
      ["POST", "/v1/worker/ask", json({ origin: "http://127.0.0.1:7777" })],
      ["POST", "/v1/worker/ask", json({ upgrade: "websocket" })],
      ["POST", "/v1/worker/ask", json({ "content-type": "text/plain" })],
      ["POST", "/v1/worker/ask", json({ "content-type": "application/merge-patch+json" })],
      ["POST", "/v1/worker/result", head({ "content-type": "text/plain" })],
      ["POST", "/v1/worker/ask", json({ "content-length": String(1024 * 1024 + 1) })],
      ["POST", "/v1/worker/submit", head({ "content-length": String(16 * 1024 * 1024 + 1) })],
      ["POST", "/v1/worker/submit?verdict=maybe", head()],
      ["POST", "/v1/worker/submit?verdict=pass&verdict=skip", head()],
      ["POST", "/v1/worker/artifact", head()],
      ["POST", "/v1/worker/artifact?name=a%20b", head()],
      ["POST", "/v1/worker/artifact?name=a+b", head()],
      ["GET", "/v1/worker/prompt?token=wh-aaaaaaaaaaaa", head({ authorization: undefined })]
    ]
    for (const [method, url, headers] of refused) expect(claim(method, url, headers), `${method} ${url}`).toBeUndefined()
  })
})
