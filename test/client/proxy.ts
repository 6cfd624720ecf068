/** A loopback TCP proxy the tests can cut, to drop a client's connection as a dead network would. */
import { createServer, type Server, type Socket, connect } from "node:net"

export interface Proxy {
  readonly url: string
  /** Destroys every open connection (both sides), without a close handshake. */
  readonly cut: () => void
  readonly close: () => Promise<void>
  /** New connections go to this port from now on (a server restarted elsewhere). */
  readonly retarget: (port: number) => void
}

export const startProxy = async (targetPort: number): Promise<Proxy> => {
  const sockets = new Set<Socket>()
  let target = targetPort
  const server: Server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1")
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
      s.on("error", () => {})
    }
    client.pipe(upstream)
    upstream.pipe(client)
    client.on("close", () => upstream.destroy())
    upstream.on("close", () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    retarget: (port) => {
      target = port
    },
    cut: () => {
      for (const s of sockets) s.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
