/** Route-level tests of /v1/data/* (http-api.md, Data path). */
import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { bearer, envelopeCode, login, request, startServer, type TestServer } from "./helpers.js"
import { declaredPost, handOut, spawnAck, waitRun, workerPost } from "./routes-fixtures.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

const get = (ref: string, credential?: string) =>
  fetch(`${server.url}/v1/data/${ref}`, { headers: credential === undefined ? {} : bearer(credential) })

describe("POST /v1/data/emit", () => {
  it("200 {out_id, name, bytes, sha256}, with the credential in the header or as ?token=", async () => {
    const out = await handOut(server)
    const body = "x".repeat(10_000)
    const byHeader = await workerPost(server, "/v1/data/emit?name=log", out.handle, body)
    expect(byHeader.status, byHeader.text).toBe(200)
    expect(byHeader.json).toEqual({
      out_id: expect.stringMatching(/^out-[0-9a-f]{16}$/),
      name: "log",
      bytes: 10_000,
      sha256: createHash("sha256").update(body).digest("hex")
    })
    const byQuery = await request(server, "POST", `/v1/data/emit?name=log&token=${encodeURIComponent(out.capability)}`, {
      headers: { "content-type": "application/json" },
      body: "{\"n\": 1}"
    })
    expect(byQuery.status, byQuery.text).toBe(200)
    expect(byQuery.json.out_id).not.toBe(byHeader.json.out_id)
    const byHandleQuery = await request(server, "POST", `/v1/data/emit?name=other&token=${out.handle}`, { body: "y" })
    expect(byHandleQuery.status).toBe(200)
    spawnAck(out)
    await waitRun(server, out.run_id)
    out.client.close()
  })

  it("no credential 401, a bad one 401, a missing name 400, a finished step 410, over 16 MiB 413", async () => {
    const out = await handOut(server)
    const anonymous = await request(server, "POST", "/v1/data/emit?name=x", { body: "x" })
    expect(anonymous.status).toBe(401)
    expect(envelopeCode(anonymous)).toBe("missing_credential")
    const wrong = await request(server, "POST", "/v1/data/emit?name=x&token=wh-000000000000", { body: "x" })
    expect(wrong.status).toBe(401)
    expect(envelopeCode(wrong)).toBe("bad_credential")
    const noName = await workerPost(server, "/v1/data/emit", out.handle, "x")
    expect(noName.status).toBe(400)
    expect(noName.json.error.message).toMatch(/`name`/)
    const emptyName = await workerPost(server, "/v1/data/emit?name=", out.handle, "x")
    expect(emptyName.status).toBe(400)
    const big = await declaredPost(server, "/v1/data/emit?name=big", bearer(out.handle), 17 * 1024 * 1024)
    expect(big.status).toBe(413)
    expect(JSON.parse(big.body).error.code).toBe("payload_too_large")
    spawnAck(out)
    await waitRun(server, out.run_id)
    const late = await workerPost(server, "/v1/data/emit?name=late", out.handle, "x")
    expect(late.status).toBe(410)
    expect(envelopeCode(late)).toBe("step_gone")
    out.client.close()
  })
})

describe("GET /v1/data/:ref", () => {
  it("by out_id or by name (latest of that name in the run), with its content type", async () => {
    const out = await handOut(server)
    const first = await workerPost(server, "/v1/data/emit?name=report", out.handle, "{\"v\": 1}", "application/json")
    const second = await workerPost(server, "/v1/data/emit?name=report", out.handle, "version two", "text/markdown")
    const byId = await get(first.json.out_id, out.handle)
    expect(byId.status).toBe(200)
    expect(byId.headers.get("content-type")).toBe("application/json")
    expect(await byId.text()).toBe("{\"v\": 1}")
    const byName = await get("report", out.capability)
    expect(byName.status).toBe(200)
    expect(byName.headers.get("content-type")).toBe("text/markdown")
    expect(byName.headers.get("x-out-id")).toBe(second.json.out_id)
    expect(await byName.text()).toBe("version two")
    spawnAck(out)
    await waitRun(server, out.run_id)
    out.client.close()
  })

  it("binary bodies come back byte for byte; no content type is application/octet-stream", async () => {
    const out = await handOut(server)
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13])
    const emitted = await fetch(`${server.url}/v1/data/emit?name=bin`, {
      method: "POST",
      headers: bearer(out.handle),
      body: bytes
    })
    const { out_id } = await emitted.json() as { out_id: string }
    const back = await get(out_id, out.handle)
    expect(back.headers.get("content-type")).toBe("application/octet-stream")
    expect(Buffer.from(await back.arrayBuffer())).toEqual(bytes)
    spawnAck(out)
    await waitRun(server, out.run_id)
    out.client.close()
  })

  it("an operator token reads any output; another run's worker credential is 403; unknown is 404", async () => {
    const one = await handOut(server)
    const two = await handOut(server)
    const emitted = await workerPost(server, "/v1/data/emit?name=secret", one.handle, "only for run one")
    const asOperator = await get(emitted.json.out_id, two.token)
    expect(asOperator.status).toBe(200)
    expect(await asOperator.text()).toBe("only for run one")
    const otherRun = await get(emitted.json.out_id, two.handle)
    expect(otherRun.status).toBe(403)
    const otherBody = await otherRun.json() as any
    expect(otherBody.error.code).toBe("wrong_step")
    expect(JSON.stringify(otherBody)).not.toContain("only for run one")
    // a name is looked up in the credential's own run only
    expect((await get("secret", two.handle)).status).toBe(404)
    const unknown = await get("out-0000000000000000", one.handle)
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as any).error.code).toBe("unknown_output")
    for (const out of [one, two]) {
      spawnAck(out)
      await waitRun(server, out.run_id)
      out.client.close()
    }
  })

  it("no credential, a wrong session token, or a wrong handle is 401", async () => {
    const anonymous = await request(server, "GET", "/v1/data/anything")
    expect(anonymous.status).toBe(401)
    expect(envelopeCode(anonymous)).toBe("missing_credential")
    const { token } = await login(server)
    const wrongToken = await request(server, "GET", "/v1/data/anything", { headers: bearer(token.replace(/./, (c) => (c === "0" ? "1" : "0"))) })
    expect(wrongToken.status).toBe(401)
    expect(envelopeCode(wrongToken)).toBe("bad_credential")
    const wrongHandle = await request(server, "GET", "/v1/data/anything", { headers: bearer("wh-000000000000") })
    expect(wrongHandle.status).toBe(401)
    expect(envelopeCode(wrongHandle)).toBe("bad_credential")
  })
})
