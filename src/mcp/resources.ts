/** MCP resources: how to run the operator loop, and the blueprint's JSON Schema. */
import { JSONSchema } from "effect"
import { BlueprintSchema } from "../protocol/blueprint.js"
import { SUBAGENT_TYPE } from "../protocol/directive.js"

export const GUIDE_URI = "swarmgate://guide/operator-loop"
export const BLUEPRINT_SCHEMA_URI = "swarmgate://schema/blueprint.json"

export const guide = `# The swarmgate operator loop

You are the operator: the swarmgate server runs a workflow (a blueprint) and hands each
operator step to you. You do not do a step's work yourself: you start one sub-agent per
step, and it fetches its own prompt and submits its own result.

1. operator_join {desc} -> {sid}. Keep the sid; the adapter keeps the token and the
   connection (it reconnects on its own).
2. run_start {blueprint, input?, sid} -> {run_id}. Passing sid seats you in the run.
   It returns at once; the run goes on in the server.
3. Loop: pending_wait {sid} -> one request, or {timed_out: true} (just wait again).
   * spawn: start one sub-agent of type ${SUBAGENT_TYPE} whose prompt is exactly the
     request's subagent_prompt (four or five lines, nothing added). It calls worker_fetch
     and worker_submit itself and replies OUTPUT. Then ack {sid, req_id, kind: "spawn_ack"}
     (ok defaults to true, no value). Do not fetch the prompt yourself and do not rewrite
     the sub-agent's reply. If you cannot start it: ack spawn_ack with ok false and error.
     Several spawns may be outstanding at once; start their sub-agents in parallel.
   * hook_before: a spawn is about to start; ack {kind: "hook_ack", ok: true} (or ok
     false with a reason to reject it).
   * ask: a question for you; ack {kind: "answer", value: <any JSON>}.
   * hook_after: a finished attempt, for information; no ack.
   Between waits, run_status {run_id} shows the steps; stop looping when the status is
   done, failed or cancelled.
4. operator_leave {sid} when you are finished.

If pending_wait says the server is unreachable, the adapter is reconnecting and keeps
your session: wait a little and call pending_wait again. A tool error always says what
to change; nothing you ack twice is sent twice.
`

export const blueprintJsonSchema = (): unknown => JSONSchema.make(BlueprintSchema)

export const resources = [
  {
    uri: GUIDE_URI,
    name: "operator-loop",
    title: "The swarmgate operator loop",
    description: "join -> run_start -> pending_wait -> sub-agent -> ack -> leave, step by step",
    mimeType: "text/markdown",
    text: () => guide
  },
  {
    uri: BLUEPRINT_SCHEMA_URI,
    name: "blueprint-schema",
    title: "Blueprint JSON Schema",
    description: "the JSON Schema of a blueprint, the workflow document run_start takes",
    mimeType: "application/schema+json",
    text: () => JSON.stringify(blueprintJsonSchema(), null, 2)
  }
] as const
