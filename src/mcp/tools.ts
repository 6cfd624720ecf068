/**
 * The MCP tools (name, description, input schema, handler). Descriptions are what the
 * agent reads to learn the loop, so they say when to call each tool and what comes next.
 */
import type { HttpClient } from "@effect/platform"
import { Effect, Option } from "effect"
import { call, makeApiClient } from "../client/api.js"
import type { Incoming } from "../client/OperatorConnection.js"
import { subagentPromptLines, subagentPromptOf } from "../protocol/directive.js"
import { fromCall, type ToolError, toolError } from "./errors.js"
import { type Input, type ToolName, WAIT_DEFAULT_MS } from "./inputs.js"
import type { Operators } from "./Operators.js"
import { fetchPrompt, submit } from "./worker.js"

export interface ToolContext {
  readonly signal: AbortSignal
}

type Handler<T extends ToolName> = (
  input: Input<T>,
  ctx: ToolContext
) => Effect.Effect<Record<string, unknown>, ToolError, HttpClient.HttpClient>

export interface Tool<T extends ToolName> {
  readonly description: string
  readonly handler: Handler<T>
}

/** A request as pending_wait hands it out. */
export const describeRequest = (server: string, incoming: Incoming): Record<string, unknown> => {
  const f = incoming.frame
  const base = { req_id: f.req_id, type: f.type, task_id: f.task_id }
  switch (f.type) {
    case "ask":
      return { ...base, question: f.question }
    case "hook_before":
      return { ...base, agent: f.agent, attempt: f.attempt }
    case "hook_after":
      return { ...base, agent: f.agent, attempt: f.attempt, result: f.result }
    case "spawn": {
      const handle = f.worker_handle ?? f.capability_token
      const prompt = subagentPromptOf(f.directive) ??
        subagentPromptLines({ agent: f.agent, taskId: f.task_id, baseUrl: server, workerHandle: handle }).join("\n")
      return {
        ...base,
        agent: f.agent,
        attempt: f.attempt,
        ...(f.run_id === undefined ? {} : { run_id: f.run_id }),
        worker_handle: handle,
        directive: f.directive,
        subagent_prompt: prompt
      }
    }
  }
}

const asSession = (ops: Operators, sid: string) =>
  Effect.flatMap(ops.token(sid), (token) => Effect.map(makeApiClient(ops.server, { token }), (api) => ({ api, token })))

const served = <A, E, R>(ops: Operators, effect: Effect.Effect<A, E, R>) =>
  call(ops.server, effect).pipe(Effect.mapError(fromCall))

export const makeTools = (ops: Operators): { readonly [T in ToolName]: Tool<T> } => ({
  operator_join: {
    description: "Join the swarmgate server as an operator: logs in, opens the operator socket and keeps it open " +
      "(reconnecting on its own). Returns {sid}; pass it to pending_wait, ack, run_start and operator_leave. " +
      "The session's token stays inside the adapter.",
    handler: (input) => ops.join(input.desc)
  },
  operator_leave: {
    description: "Leave: deletes the operator session on the server (its seats are vacated, its pending requests " +
      "fail). Returns {removed: true}.",
    handler: (input) => ops.leave(input.sid)
  },
  pending_wait: {
    description: "Wait for the next request to this operator session (long poll, default " +
      `${WAIT_DEFAULT_MS} ms). Returns the oldest request not handed out yet, or {timed_out: true}. ` +
      "type spawn: start one sub-agent (type swarmgate-worker) whose prompt is exactly subagent_prompt; when it " +
      "replies OUTPUT, ack with kind spawn_ack (ok true, no value); if it cannot be started, spawn_ack with ok false " +
      "and error. type hook_before: ack with kind hook_ack and ok. type ask: ack with kind answer and value. " +
      "type hook_after: information only, no ack. Each request is handed out once; loop until the run ends.",
    handler: (input, ctx) =>
      Effect.map(
        ops.wait(input.sid, input.timeout_ms ?? WAIT_DEFAULT_MS, ctx.signal),
        Option.match({ onNone: () => ({ timed_out: true }), onSome: (i) => describeRequest(ops.server, i) })
      )
  },
  ack: {
    description: "Reply to a request pending_wait handed out: kind answer (ask; value), hook_ack (hook_before; ok, " +
      "reason?), spawn_ack (spawn; ok? default true, error?, value? default null) or spawn_halt (spawn; stop this " +
      "step on purpose; reason?, value?). Returns {sent: true}; a reply that does not fit is refused with what to change.",
    handler: (input) => ops.ack(input)
  },
  worker_fetch: {
    description: "For the sub-agent: fetch the prompt of its step with the worker_handle of its prompt. Returns " +
      "{task_id, run_id, attempt, agent, system, prompt, context}: follow system, work on prompt.",
    handler: (input) => fetchPrompt(ops.server, input)
  },
  worker_submit: {
    description: "For the sub-agent: submit the raw result of its step (body: text, or JSON text for a structured " +
      "result; verdict pass, blocked or skip). With name, stage a named part instead (submit the result after). " +
      "The first submit closes the step. Returns {submitted: true}.",
    handler: (input) =>
      input.name !== undefined && input.verdict !== undefined
        ? Effect.fail(toolError("bad_arguments", "verdict belongs to the result, not to a staged part: leave out verdict or name"))
        : submit(ops.server, input)
  },
  run_start: {
    description: "Start a run of a blueprint (a stored id, or an inline blueprint object) and return at once with " +
      "{run_id, task_id, status}; it never waits for the run. Pass sid to seat your session in the run's operator " +
      "seats, then serve it with pending_wait. The blueprint's JSON Schema: resource swarmgate://schema/blueprint.json.",
    handler: (input) =>
      Effect.gen(function*() {
        const { api } = input.sid === undefined
          ? { api: yield* makeApiClient(ops.server) }
          : yield* asSession(ops, input.sid)
        const launched = yield* served(
          ops,
          api.tasks.launch({
            payload: {
              blueprint: input.blueprint,
              ...(input.input === undefined ? {} : { input: input.input }),
              ...(input.sid === undefined ? {} : { operator_sid: input.sid }),
              wait: false
            }
          })
        )
        return { run_id: launched.run_id, task_id: launched.task_id, status: launched.status }
      })
  },
  run_status: {
    description: "The run: status (running, done, failed, cancelled, interrupted), steps, result or error, seats.",
    handler: (input) =>
      Effect.flatMap(makeApiClient(ops.server), (api) => served(ops, api.runs.get({ path: { id: input.run_id } })))
  },
  run_cancel: {
    description: "Cancel a running run: its pending requests are withdrawn. Returns {cancelled: true}.",
    handler: (input) =>
      Effect.flatMap(makeApiClient(ops.server), (api) =>
        served(ops, api.runs.cancel({ path: { id: input.run_id } }))).pipe(Effect.as({ cancelled: true }))
  },
  run_acquire: {
    description: "Take over a seat of a run for this session (slot may be left out when the run has one seat); " +
      "the seat's pending requests are sent again to this session. Returns {slot, generation, previous?}.",
    handler: (input) =>
      Effect.flatMap(asSession(ops, input.sid), ({ api, token }) =>
        served(
          ops,
          api.runs.acquire({
            path: { id: input.run_id },
            headers: { authorization: `Bearer ${token}` },
            payload: { sid: input.sid, ...(input.slot === undefined ? {} : { slot: input.slot }) }
          })
        ))
  },
  operators_list: {
    description: "The live operator sessions on the server: {operators: [{sid, desc, connected, joined_at, " +
      "last_access, pending}], total}.",
    handler: (input) =>
      Effect.flatMap(asSession(ops, input.sid), ({ api, token }) =>
        served(ops, api.operators.list({ headers: { authorization: `Bearer ${token}` } })))
  }
})
