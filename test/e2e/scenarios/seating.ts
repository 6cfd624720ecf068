/** Launching with a seated session: seating is an act of that session, so its token goes along. */
import { bearer, request, type TestServer } from "../helpers.js"
import type { ScriptedOperator } from "./operator-client.js"

export const jsonAs = (who?: ScriptedOperator) => ({
  "content-type": "application/json",
  ...(who === undefined ? {} : bearer(who.token))
})

/** `POST /v1/tasks` (202 expected), seating `who` with its token when given. */
export const launchAs = async (server: TestServer, body: Record<string, unknown>, who?: ScriptedOperator) => {
  const reply = await request(server, "POST", "/v1/tasks", {
    headers: jsonAs(who),
    body: JSON.stringify(who === undefined ? body : { ...body, operator_sid: who.sid })
  })
  if (reply.status !== 202) throw new Error(`POST /v1/tasks: ${reply.status} ${reply.text}`)
  return reply.json as { task_id: string; run_id: string }
}
