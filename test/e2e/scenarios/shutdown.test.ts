/**
 * Shutting the server down (cli.md `serve`: stop taking work, close sockets with 1001) with an
 * operator attached, a request pending and an SSE follower: the server stops promptly, the
 * socket is closed 1001 "server shutting down", and the event stream ends.
 */
import { describe, expect, it } from "@effect/vitest"
import { startServer } from "../helpers.js"
import { launch, oneStepBlueprint, readEvents, ScriptedOperator, sseType, withTimeout } from "./operator-client.js"

describe("shutdown with live clients", () => {
  it("closes the operator socket with 1001, ends the event stream, and finishes within 5 s", async () => {
    const server = await startServer()
    const op = await ScriptedOperator.login(server)
    const launched = await launch(server, { blueprint: oneStepBlueprint(), input: {}, operator_sid: op.sid })
    await op.waitType("spawn")
    const follower = readEvents(server, launched.run_id, { timeoutMs: 8000 })
    await new Promise((r) => setTimeout(r, 100))

    const started = Date.now()
    let finished = false
    await Promise.race([server.close().then(() => (finished = true)), new Promise((r) => setTimeout(r, 5000))])
    expect(finished, `server.close() still pending after ${Date.now() - started} ms`).toBe(true)
    expect(await withTimeout(op.closed(), 2000, "operator socket not closed")).toEqual({
      code: 1001,
      reason: "server shutting down"
    })
    const events = await follower
    expect(events.status).toBe(200)
    // the server ended the stream itself, and its last word is that the run was interrupted
    expect(events.end, JSON.stringify(events.events.map(sseType))).toBe("closed")
    expect(events.events.map(sseType)).toContain("run_started")
    expect(events.events.map(sseType).at(-1)).toBe("run_interrupted")
  })
})
