/** Route-level tests of /v1/blueprints (http-api.md, Blueprints). */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { envelopeCode, jsonBody, request, startServer, type TestServer } from "./helpers.js"
import { identityBlueprint } from "./routes-fixtures.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

describe("PUT /v1/blueprints/:id", () => {
  it("stores versions counting up from 1, per id", async () => {
    const v1 = await request(server, "PUT", "/v1/blueprints/bp-count", jsonBody(identityBlueprint({ description: "one" })))
    expect(v1.status, v1.text).toBe(200)
    expect(v1.json).toEqual({ id: "bp-count", version: 1 })
    const v2 = await request(server, "PUT", "/v1/blueprints/bp-count", jsonBody(identityBlueprint({ description: "two" })))
    expect(v2.json).toEqual({ id: "bp-count", version: 2 })
    const other = await request(server, "PUT", "/v1/blueprints/bp-other", jsonBody(identityBlueprint()))
    expect(other.json).toEqual({ id: "bp-other", version: 1 })
  })

  it("a body whose id equals the URL's is accepted; a different one is 422 naming $.id", async () => {
    const same = await request(server, "PUT", "/v1/blueprints/bp-id", jsonBody(identityBlueprint({ id: "bp-id" })))
    expect(same.status, same.text).toBe(200)
    const differs = await request(server, "PUT", "/v1/blueprints/bp-id", jsonBody(identityBlueprint({ id: "elsewhere" })))
    expect(differs.status, differs.text).toBe(422)
    expect(envelopeCode(differs)).toBe("invalid_blueprint")
    expect(differs.json.error.details).toContainEqual(expect.objectContaining({ path: "$.id" }))
  })

  it("an invalid blueprint is 422 with every problem in error.details, and nothing is stored", async () => {
    const broken = {
      agents: [{ name: "id", kind: "builtin", fn: "identity", colour: "red" }, { name: "x", kind: "robot" }],
      flow: { kind: "step", ref: "nobody", in: { op: "lit", value: 1 }, out: "$.x" },
      flavour: 1
    }
    const reply = await request(server, "PUT", "/v1/blueprints/bp-broken", jsonBody(broken))
    expect(reply.status, reply.text).toBe(422)
    expect(envelopeCode(reply)).toBe("invalid_blueprint")
    const details: Array<{ path: string; message: string }> = reply.json.error.details
    expect(details.length).toBeGreaterThanOrEqual(3)
    for (const d of details) {
      expect(typeof d.path).toBe("string")
      expect(typeof d.message).toBe("string")
    }
    const all = JSON.stringify(details)
    expect(all).toMatch(/colour/)
    expect(all).toMatch(/flavour/)
    expect(all).toMatch(/nobody/)
    expect(reply.json.error.message).toMatch(/error\.details/)
    expect((await request(server, "GET", "/v1/blueprints/bp-broken")).status).toBe(404)
  })

  it("a body that is not a JSON object is 400; empty is 400; unparsable is 400 invalid_json", async () => {
    for (const body of ["[1, 2]", "\"text\"", "7", "null", ""]) {
      const reply = await request(server, "PUT", "/v1/blueprints/bp-shape", {
        headers: { "content-type": "application/json" },
        body
      })
      expect(reply.status, `${JSON.stringify(body)}: ${reply.text}`).toBe(400)
      expect(envelopeCode(reply)).toBe("invalid_request")
      expect(reply.json.error.details).toEqual([{ path: "$", message: "must be a JSON object" }])
    }
    const unparsable = await request(server, "PUT", "/v1/blueprints/bp-shape", {
      headers: { "content-type": "application/json" },
      body: "{agents:"
    })
    expect(unparsable.status).toBe(400)
    expect(envelopeCode(unparsable)).toBe("invalid_json")
  })

  it("a non-JSON content type is 415", async () => {
    const reply = await request(server, "PUT", "/v1/blueprints/bp-type", {
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(identityBlueprint())
    })
    expect(reply.status).toBe(415)
    expect(envelopeCode(reply)).toBe("unsupported_media_type")
  })
})

describe("GET /v1/blueprints and /v1/blueprints/:id", () => {
  it("lists the latest version of each id, sorted by id", async () => {
    await request(server, "PUT", "/v1/blueprints/list-b", jsonBody(identityBlueprint()))
    await request(server, "PUT", "/v1/blueprints/list-a", jsonBody(identityBlueprint()))
    await request(server, "PUT", "/v1/blueprints/list-a", jsonBody(identityBlueprint()))
    const reply = await request(server, "GET", "/v1/blueprints")
    expect(reply.status).toBe(200)
    const mine = reply.json.blueprints.filter((b: any) => b.id.startsWith("list-"))
    expect(mine.map((b: any) => [b.id, b.version])).toEqual([["list-a", 2], ["list-b", 1]])
    for (const b of mine) {
      expect(Object.keys(b).sort()).toEqual(["id", "updated_at", "version"])
      expect(new Date(b.updated_at).toISOString()).toBe(b.updated_at)
    }
  })

  it("GET answers the latest version, ?version=N an older one, with the stored document", async () => {
    await request(server, "PUT", "/v1/blueprints/bp-read", jsonBody(identityBlueprint({ description: "first" })))
    await request(server, "PUT", "/v1/blueprints/bp-read", jsonBody(identityBlueprint({ description: "second" })))
    const latest = await request(server, "GET", "/v1/blueprints/bp-read")
    expect(latest.status).toBe(200)
    expect(latest.json).toMatchObject({ id: "bp-read", version: 2 })
    expect(latest.json.blueprint).toEqual({ ...identityBlueprint({ description: "second" }), id: "bp-read" })
    const old = await request(server, "GET", "/v1/blueprints/bp-read?version=1")
    expect(old.json).toMatchObject({ id: "bp-read", version: 1, blueprint: { description: "first" } })
    // an empty version means the latest
    expect((await request(server, "GET", "/v1/blueprints/bp-read?version=")).json.version).toBe(2)
  })

  it("an unknown id or version is 404; a version that is not a positive integer is 400 naming it", async () => {
    const unknown = await request(server, "GET", "/v1/blueprints/no-such-blueprint")
    expect(unknown.status).toBe(404)
    expect(envelopeCode(unknown)).toBe("unknown_blueprint")
    expect(unknown.json.error.message).toContain("no-such-blueprint")
    await request(server, "PUT", "/v1/blueprints/bp-v", jsonBody(identityBlueprint()))
    const noVersion = await request(server, "GET", "/v1/blueprints/bp-v?version=9")
    expect(noVersion.status).toBe(404)
    expect(envelopeCode(noVersion)).toBe("unknown_blueprint")
    expect(noVersion.json.error.message).toMatch(/version 9/)
    for (const bad of ["abc", "0", "-1", "1.5"]) {
      const reply = await request(server, "GET", `/v1/blueprints/bp-v?version=${bad}`)
      expect(reply.status, bad).toBe(400)
      expect(envelopeCode(reply)).toBe("invalid_request")
      expect(reply.json.error.message).toMatch(/`version`/)
    }
  })
})

describe("DELETE /v1/blueprints/:id", () => {
  it("204, then the id is unknown (404), and a new PUT starts again at version 1", async () => {
    await request(server, "PUT", "/v1/blueprints/bp-del", jsonBody(identityBlueprint()))
    await request(server, "PUT", "/v1/blueprints/bp-del", jsonBody(identityBlueprint()))
    const del = await request(server, "DELETE", "/v1/blueprints/bp-del")
    expect(del.status).toBe(204)
    expect(del.text).toBe("")
    expect((await request(server, "GET", "/v1/blueprints/bp-del")).status).toBe(404)
    const again = await request(server, "DELETE", "/v1/blueprints/bp-del")
    expect(again.status).toBe(404)
    expect(envelopeCode(again)).toBe("unknown_blueprint")
    const fresh = await request(server, "PUT", "/v1/blueprints/bp-del", jsonBody(identityBlueprint()))
    expect(fresh.json).toEqual({ id: "bp-del", version: 1 })
  })
})
