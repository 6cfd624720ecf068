/**
 * `swarmgate mcp` as an MCP client starts it: a child process spoken to over stdio with the
 * SDK's own `Client`. Plus a loopback proxy that can go down and come back on the same port
 * (an outage), or pass HTTP while refusing the WebSocket upgrade.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { connect, createServer, type Server, type Socket } from "node:net"
import { bin, repo } from "./cli-helpers.js"

export interface Adapter {
  readonly client: Client
  readonly stderr: () => string
  /** Calls a tool; the parsed JSON result, or throws with the tool error text. */
  readonly call: (name: string, args?: Record<string, unknown>) => Promise<any>
  /** Calls a tool that must fail; its error text. */
  readonly fails: (name: string, args?: Record<string, unknown>) => Promise<string>
  readonly close: () => Promise<void>
}

export const startAdapter = async (server: string, extraArgs: ReadonlyArray<string> = []): Promise<Adapter> => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin, "mcp", "--server", server, ...extraArgs],
    cwd: repo,
    stderr: "pipe",
    env: { ...process.env } as Record<string, string>
  })
  let stderr = ""
  transport.stderr?.on("data", (c: Buffer) => (stderr += c.toString()))
  const client = new Client({ name: "swarmgate-test", version: "0.0.0" })
  await client.connect(transport)
  const raw = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })
  const textOf = (result: Awaited<ReturnType<typeof raw>>) =>
    (result.content as Array<{ type: string; text: string }>).map((c) => c.text).join("")
  return {
    client,
    stderr: () => stderr,
    call: async (name, args = {}) => {
      const result = await raw(name, args)
      if (result.isError === true) throw new Error(`${name} failed: ${textOf(result)}`)
      return JSON.parse(textOf(result))
    },
    fails: async (name, args = {}) => {
      const result = await raw(name, args)
      if (result.isError !== true) throw new Error(`${name} should have failed, got ${textOf(result)}`)
      return textOf(result)
    },
    close: () => client.close()
  }
}

export interface Gate {
  readonly url: string
  /** Stops listening and cuts every connection: the server looks down. */
  readonly down: () => Promise<void>
  /** Listens again on the same port. */
  readonly up: () => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * A TCP proxy to `targetPort`; with `refuseUpgrades`, a WebSocket upgrade gets 503; with
 * `hangUpgrades`, it is never answered.
 */
export const startGate = async (
  targetPort: number,
  options: { refuseUpgrades?: boolean; hangUpgrades?: boolean } = {}
): Promise<Gate> => {
  const sockets = new Set<Socket>()
  const onClient = (client: Socket) => {
    sockets.add(client)
    client.on("close", () => sockets.delete(client))
    client.on("error", () => {})
    client.once("data", (first) => {
      const upgrade = /\r\nupgrade: websocket/i.test(first.toString("latin1"))
      if (upgrade && options.hangUpgrades === true) return
      if (upgrade && options.refuseUpgrades === true) {
        client.end("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        return
      }
      const upstream = connect(targetPort, "127.0.0.1")
      sockets.add(upstream)
      upstream.on("close", () => {
        sockets.delete(upstream)
        client.destroy()
      })
      upstream.on("error", () => {})
      upstream.write(first)
      client.pipe(upstream)
      upstream.pipe(client)
      client.on("close", () => upstream.destroy())
    })
  }
  let server: Server = createServer(onClient)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return {
    url: `http://127.0.0.1:${port}`,
    down: stop,
    up: async () => {
      server = createServer(onClient)
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
    },
    close: stop
  }
}

/** A port nothing listens on (bound, then released). */
export const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
