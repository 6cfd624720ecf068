/**
 * S2 follow-up: what happens to the TCP connection after an upgrade request is refused.
 *
 * Node's own HTTP client pools connections (keepAlive is the default agent behaviour since
 * Node 19). A refusal that says `Connection: keep-alive` invites the client to send its next
 * request on the same connection; if the server has in fact half-closed it, that request
 * dies with "socket hang up" — and a server socket left half-open with unread bytes must
 * still go away, or it leaks and keeps the server from shutting down.
 *
 * Each test runs on its own server so a stuck shutdown is measured, bounded, and cannot
 * hang the other suites.
 */
import { describe, expect, it } from "@effect/vitest"
import { connect as netConnect } from "node:net"
import { Agent, get as httpGet } from "node:http"
import { login, startServer, type TestServer } from "../helpers.js"
import { rawUpgrade } from "./operator-client.js"

/** server.close(), given at most `ms`; resolves with whether it finished. */
const closeWithin = async (server: TestServer, ms: number): Promise<boolean> => {
  let finished = false
  await Promise.race([server.close().then(() => (finished = true)), new Promise((r) => setTimeout(r, ms))])
  return finished
}

const upgradeRequest = (sid: string) =>
  `GET /v1/operators/${sid}/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer nope\r\n\r\n`

describe("the connection after a refused upgrade", () => {
  it("a keep-alive client's next request on the same agent succeeds (or the refusal says Connection: close)", async () => {
    const server = await startServer()
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const { sid } = await login(server)
      const refused = await rawUpgrade(server, `/v1/operators/${sid}/ws`, { authorization: "Bearer nope" }, agent)
      expect(refused.status).toBe(401)
      expect(refused.upgraded).toBe(false)
      const next = await new Promise<number>((resolve, reject) => {
        const req = httpGet(`${server.url}/v1/healthz`, { agent }, (res) => {
          res.resume()
          res.on("end", () => resolve(res.statusCode ?? 0))
        })
        req.on("error", reject)
      }).catch((e: Error) => `${e.message} (the refusal said Connection: ${String(refused.headers.connection)})`)
      expect(next).toBe(200)
    } finally {
      agent.destroy()
      await closeWithin(server, 3000)
    }
  })

  it("a peer that writes after the refusal does not leave a socket that blocks server shutdown", async () => {
    const server = await startServer()
    const { sid } = await login(server)
    // a half-open client: it keeps writing after the server's FIN, as a pooled HTTP client does
    const sock = netConnect({ port: server.port, host: "127.0.0.1", allowHalfOpen: true })
    sock.on("error", () => {})
    let got = ""
    sock.on("data", (d) => (got += d.toString()))
    sock.write(upgradeRequest(sid))
    const deadline = Date.now() + 3000
    while (!got.includes("\r\n\r\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(got.split("\r\n")[0]).toBe("HTTP/1.1 401 Unauthorized")
    if (sock.writable) sock.write("GET /v1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await new Promise((r) => setTimeout(r, 200))
    sock.destroy()
    const started = Date.now()
    const closed = await closeWithin(server, 3000)
    expect(closed, `server.close() still pending after ${Date.now() - started} ms`).toBe(true)
  })
})
