/**
 * The run's flow: the blueprint's tree (seq, fanout, loop, branch, try, steps) with each
 * step node's executions under it, or, when the blueprint is not reachable, a timeline of
 * the steps in start order. Nested lists, so a screen reader announces the nesting.
 */
import type { AgentDef, Blueprint, FlowNode } from "../../protocol/blueprint.js"
import type { Run, Step } from "./api.js"
import { childLocation, flowLocation, partLocation } from "../../protocol/location.js"
import { agentOf, nodeLabel, type OpenRequest, placeSteps, waitsOn } from "./flow.js"
import { Json } from "./Json.js"
import { duration } from "./poll.js"

interface Ctx {
  blueprint: Blueprint | undefined
  run: Run
  placed: Map<string, Array<Step>>
  open: Map<string, Array<OpenRequest>>
}

const agentText = (agent: AgentDef | undefined): string =>
  agent === undefined ? "" : agent.kind === "operator" ? `operator, seat ${agent.operator}` :
    agent.kind === "builtin" ? `builtin ${agent.fn}` : `subprocess ${agent.command.join(" ")}`

const offset = (run: Run, step: Step): string => {
  const ms = Date.parse(step.started_at) - Date.parse(run.created_at)
  return Number.isFinite(ms) && ms >= 0 ? `${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`} after the run` : ""
}

const Execution = ({ step, ctx, showRef }: { step: Step; ctx: Ctx; showRef?: boolean }) => {
  const agent = agentOf(ctx.blueprint, step.ref)
  const waits = waitsOn(step, agent, ctx.run.seats, ctx.open.get(step.step_id) ?? [])
  return (
    <li class="step" data-step={step.step_id} data-ref={step.ref} data-status={step.status}>
      <span class={`status status-${step.status}`}>{step.status}</span>{" "}
      {showRef && <><strong>{step.ref}</strong> </>}attempt {step.attempt} ·{" "}
      <span class="muted">started {offset(ctx.run, step)}</span> ·{" "}
      {step.finished_at === undefined ? `for ${duration(step.started_at)}` : `took ${duration(step.started_at, step.finished_at)}`}{" "}
      <code class="id">{step.step_id}</code>
      {waits && <div class="waits" data-testid="waits">{waits}</div>}
      {step.value !== undefined && <div>Value: <Json value={step.value} label="value" /></div>}
      {step.error !== undefined && <div class="error">Error: <Json value={step.error} label="error" /></div>}
    </li>
  )
}

const Executions = ({ steps, ctx }: { steps: ReadonlyArray<Step>; ctx: Ctx }) => (
  <ol class="executions">{steps.map((s) => <Execution key={s.step_id} step={s} ctx={ctx} />)}</ol>
)

/** One node; `after` names what an unstarted node of a sequence waits for. */
const Node = ({ node, path, ctx, after }: { node: FlowNode; path: string; ctx: Ctx; after?: string }) => {
  const ended = ctx.run.status !== "running"
  const notRun = (
    <p class="pending">{ended ? "did not run" : after !== undefined ? `not started: runs after ${after}` : "not started"}</p>
  )
  switch (node.kind) {
    case "step": {
      const runs = ctx.placed.get(path) ?? []
      return (
        <li class="node node-step" data-path={path} data-ref={node.ref}>
          <span class="kind">step</span> <strong>{node.ref}</strong>{" "}
          <span class="muted">{agentText(agentOf(ctx.blueprint, node.ref))}</span>
          {runs.length === 0 ? notRun : <Executions steps={runs} ctx={ctx} />}
        </li>
      )
    }
    case "seq":
      return (
        <li class="node" data-path={path}>
          <span class="kind">in order</span>
          <ol class="flow">
            {node.children.map((child, i) => (
              <Node key={i} node={child} path={childLocation(path, i)} ctx={ctx}
                {...(i > 0 ? { after: nodeLabel(node.children[i - 1]!) } : after !== undefined ? { after } : {})} />
            ))}
          </ol>
        </li>
      )
    case "fanout":
      return (
        <li class="node" data-path={path}>
          <span class="kind">fanout</span> one branch per item, all at once, join <strong>{node.join}</strong>{" "}
          <span class="muted">(attempt n = the n-th branch to start)</span>
          <ul class="flow"><Node node={node.body} path={partLocation(path, "body")} ctx={ctx} {...(after !== undefined ? { after } : {})} /></ul>
        </li>
      )
    case "loop":
      return (
        <li class="node" data-path={path}>
          <span class="kind">loop</span> up to {node.max} rounds <span class="muted">(attempt n = round n)</span>
          <ul class="flow"><Node node={node.body} path={partLocation(path, "body")} ctx={ctx} {...(after !== undefined ? { after } : {})} /></ul>
        </li>
      )
    case "branch":
      return (
        <li class="node" data-path={path}>
          <span class="kind">branch</span> on a condition
          <ul class="flow">
            <li class="node"><span class="kind">then</span><ul class="flow"><Node node={node.then} path={partLocation(path, "then")} ctx={ctx} /></ul></li>
            {node.else && (
              <li class="node"><span class="kind">else</span><ul class="flow"><Node node={node.else} path={partLocation(path, "else")} ctx={ctx} /></ul></li>
            )}
          </ul>
        </li>
      )
    case "try":
      return (
        <li class="node" data-path={path}>
          <span class="kind">try</span>
          <ul class="flow">
            <li class="node"><span class="kind">body</span><ul class="flow"><Node node={node.body} path={partLocation(path, "body")} ctx={ctx} /></ul></li>
            <li class="node"><span class="kind">on failure</span><ul class="flow"><Node node={node.catch} path={partLocation(path, "catch")} ctx={ctx} /></ul></li>
          </ul>
        </li>
      )
    case "assign":
      return <li class="node node-assign" data-path={path}><span class="kind">assign</span> <code>{node.at}</code></li>
  }
}

export const FlowView = ({ run, blueprint, open, note }: {
  run: Run
  blueprint: Blueprint | undefined
  open: Map<string, Array<OpenRequest>>
  /** Why the tree is not shown (an inline blueprint, or an error fetching it). */
  note: string | undefined
}) => {
  const steps = run.steps ?? []
  if (blueprint !== undefined) {
    const ctx: Ctx = { blueprint, run, placed: placeSteps(blueprint.flow, steps), open }
    return <ul class="flow flow-root" aria-label="flow of the blueprint"><Node node={blueprint.flow} path={flowLocation} ctx={ctx} /></ul>
  }
  const ctx: Ctx = { blueprint: undefined, run, placed: new Map(), open }
  const ordered = [...steps].sort((a, b) => a.started_at.localeCompare(b.started_at))
  return (
    <>
      {note && <p class="muted">{note}</p>}
      {ordered.length === 0
        ? <p>No step has started yet.</p>
        : <ol class="flow timeline" aria-label="steps in start order">{ordered.map((s) => <Execution key={s.step_id} step={s} ctx={ctx} showRef />)}</ol>}
    </>
  )
}
