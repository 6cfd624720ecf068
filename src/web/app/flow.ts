/**
 * The run page's flow model, pure so it is tested without a browser: which step node of
 * the blueprint each executed step belongs to, and what a step waits on.
 *
 * The run view gives each step its node's `location` (written as protocol/location.ts
 * says, the same way stepNodes writes it), so a step goes exactly to its node: loops,
 * fanouts, both arms of a `branch`, one agent used twice.
 *
 * A step without a `location` (a server older than that field) is placed by a guess:
 * `attempt` counts the dispatches of one node within the run, so taking the steps in
 * start order, attempt 1 goes to the first node of that ref (document order) without one,
 * and attempt n to the first node inside a loop or fanout that has n-1 and not n yet. A ref
 * in two loops or fanouts, or in both arms of a `branch` or `try`, is ambiguous there.
 */
import type { AgentDef, Blueprint, FlowNode } from "../../protocol/blueprint.js"
import { childLocation, flowLocation, partLocation } from "../../protocol/location.js"
import type { Step } from "./api.js"

/** A run event as the page keeps it (the fields it reads). */
export interface RunEvent {
  seq: number
  type: string
  at: string
  step_id?: string
  ref?: string
  attempt?: number
  req_id?: string
  kind?: string
  sid?: string
  status?: string
  message?: string
}

/** A step node: its location (`$.flow…`), its ref, and whether it can run more than once (inside a loop or fanout). */
export interface StepPlace {
  path: string
  ref: string
  repeats: boolean
}

/** The step nodes of a flow in document order. */
export const stepNodes = (flow: FlowNode, at = flowLocation, repeats = false): Array<StepPlace> => {
  switch (flow.kind) {
    case "step":
      return [{ path: at, ref: flow.ref, repeats }]
    case "seq":
      return flow.children.flatMap((child, i) => stepNodes(child, childLocation(at, i), repeats))
    case "branch":
      return [...stepNodes(flow.then, partLocation(at, "then"), repeats), ...(flow.else ? stepNodes(flow.else, partLocation(at, "else"), repeats) : [])]
    case "loop":
    case "fanout":
      return stepNodes(flow.body, partLocation(at, "body"), true)
    case "try":
      return [...stepNodes(flow.body, partLocation(at, "body"), repeats), ...stepNodes(flow.catch, partLocation(at, "catch"), repeats)]
    case "assign":
      return []
  }
}

const byStart = (a: Step, b: Step) => a.started_at.localeCompare(b.started_at) || a.attempt - b.attempt

/** Each step node's executions (location → steps, in start order); steps of unknown refs are left out. */
export const placeSteps = (flow: FlowNode, steps: ReadonlyArray<Step>): Map<string, Array<Step>> => {
  const nodes = stepNodes(flow)
  const placed = new Map<string, Array<Step>>(nodes.map((n) => [n.path, []]))
  const has = (n: StepPlace, attempt: number) => placed.get(n.path)!.some((s) => s.attempt === attempt)
  for (const step of [...steps].sort(byStart)) {
    const exact = step.location !== undefined ? placed.get(step.location) : undefined
    if (exact !== undefined) {
      exact.push(step)
      continue
    }
    const candidates = nodes.filter((n) => n.ref === step.ref)
    const home = step.attempt <= 1
      ? candidates.find((n) => !has(n, 1))
      : candidates.find((n) => n.repeats && has(n, step.attempt - 1) && !has(n, step.attempt))
    const fallback = home ?? candidates.find((n) => n.repeats) ?? candidates[0]
    if (fallback !== undefined) placed.get(fallback.path)!.push(step)
  }
  return placed
}

/** A request sent for a step and not answered yet, from the run's events. */
export interface OpenRequest {
  req_id: string
  kind: string
  sid: string
}

export const openRequests = (events: ReadonlyArray<RunEvent>): Map<string, Array<OpenRequest>> => {
  const open = new Map<string, Array<OpenRequest>>()
  for (const e of events) {
    if (e.step_id === undefined) continue
    const list = open.get(e.step_id) ?? []
    // a request without req_id (a hook_after) is matched by its kind
    const same = (r: OpenRequest) => (e.req_id !== undefined ? r.req_id === e.req_id : r.kind === e.kind)
    if (e.type === "request_sent") {
      open.set(e.step_id, [...list, { req_id: e.req_id ?? "", kind: e.kind ?? "request", sid: e.sid ?? "" }])
    } else if (e.type === "request_answered") {
      const i = list.findIndex(same)
      if (i >= 0) open.set(e.step_id, [...list.slice(0, i), ...list.slice(i + 1)])
    } else if (e.type === "step_finished") {
      open.delete(e.step_id)
    }
  }
  return open
}

const short = (sid: string) => (sid.length > 12 ? sid.slice(0, 12) + "…" : sid)

/** What a started step waits on, in words; undefined when it waits on nothing. */
export const waitsOn = (
  step: Step,
  agent: AgentDef | undefined,
  seats: Record<string, { sid: string } | null>,
  requests: ReadonlyArray<OpenRequest>
): string | undefined => {
  if (step.status === "waiting_for_operator") {
    const names = Object.keys(seats)
    const seat = agent?.kind === "operator" ? agent.operator : names.length === 1 ? names[0] : undefined
    return seat === undefined
      ? "waits for an operator to take its seat"
      : `waits for an operator to take seat ${seat} (${seats[seat] ? `held by ${short(seats[seat]!.sid)}` : "empty"})`
  }
  if (step.status !== "running") return undefined
  const latest = requests[requests.length - 1]
  if (latest !== undefined) {
    const who = `operator ${short(latest.sid)}`
    return latest.kind === "spawn"
      ? `waits on the sub-agent started by ${who} (spawn ${latest.req_id})`
      : `waits on ${who} to answer ${latest.kind}${latest.req_id ? ` ${latest.req_id}` : ""}`
  }
  if (agent?.kind === "subprocess") return `waits on the process ${agent.command[0] ?? ""}`
  return undefined
}

/** A short name of a node, to say what an unstarted node comes after. */
export const nodeLabel = (node: FlowNode): string =>
  node.kind === "step" ? node.ref : node.kind === "seq" ? (node.children.length ? nodeLabel(node.children[node.children.length - 1]!) : "seq") : node.kind

export const agentOf = (blueprint: Blueprint | undefined, ref: string): AgentDef | undefined =>
  blueprint?.agents.find((a) => a.name === ref)
