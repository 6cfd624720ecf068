/**
 * What an idle operator socket keeps on the server (docs/performance.md, P3): after the
 * handshake nothing of its HTTP request may stay reachable from the TCP socket. The
 * platform's upgrade handler puts a 'close' listener on the socket that holds the request's
 * fiber, IncomingMessage and ServerResponse; WsUpgrade drops it once the handshake is done.
 * The server runs in this process, so its side of each connection is found among the
 * process's open handles.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Socket } from "node:net"
import { bearer, type Client, connect, login, request, startServer, type TestServer } from "./helpers.js"

let server: TestServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.close())

/** The server's end of every TCP connection to it. */
const serverSockets = (port: number): Array<Socket> =>
  (process as unknown as { _getActiveHandles(): Array<unknown> })._getActiveHandles().filter(
    (h): h is Socket =>
      typeof h === "object" && h !== null && (h as Socket).localPort === port && (h as Socket).remotePort !== undefined
  )

const holdsRequestFiber = (socket: Socket) =>
  socket.listeners("close").some((listener) => String(listener).includes("unsafeInterruptAsFork"))

describe("an idle operator socket", () => {
  it("keeps no listener that holds its finished HTTP request", async () => {
    const clients: Array<Client> = []
    let clientsToken: string | undefined
    try {
      for (let i = 0; i < 3; i++) {
        const { sid, token } = await login(server)
        clientsToken = token
        clients.push(await connect(server, sid, token))
      }
      // the sockets work: each session is listed as connected
      const list = await request(server, "GET", "/v1/operators", { headers: bearer(clientsToken!) })
      expect(list.json.operators.filter((o: { connected: boolean }) => o.connected).length).toBeGreaterThanOrEqual(3)
      const sockets = serverSockets(server.port).filter((s) => s.listenerCount("close") > 0)
      expect(sockets.length).toBeGreaterThanOrEqual(3)
      expect(sockets.filter(holdsRequestFiber)).toEqual([])
    } finally {
      for (const client of clients) client.close()
      await Promise.all(clients.map((c) => c.closed))
    }
  })
})
