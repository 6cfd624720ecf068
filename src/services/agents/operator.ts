/**
 * Operator agents (docs/blueprints.md, agents: operator; middleware): a step is handed to the
 * session seated in the agent's seat. `main_ai` wraps the spawn in `hook_before` /
 * `hook_after`; `senior_escalation` asks the seat's session to rescue a blocked step;
 * `metadata.project_name_alias` goes into the step context and the directive.
 *
 * The step's value is what the worker submitted over HTTP (the first submit closes the
 * submission, staged parts fold into `{out, parts}`); without a submit it is the spawn_ack
 * value, and an empty one (the sub-agent submitted nothing) fails the step with `no_result`.
 */
import { Effect, Either, Option } from "effect"
import type { Blueprint, OperatorAgent } from "../../protocol/blueprint.js"
import { renderDirective } from "../../protocol/directive.js"
import { makeReqId, type ReqId, type RunId, type Sid, sidOfReqId, type StepId } from "../../protocol/ids.js"
import { type Capability, Capabilities } from "../Capabilities.js"
import { EngineConfig } from "../EngineConfig.js"
import type { PromptPayload, StepRecord } from "../../protocol/records.js"
import { Operator } from "../roles/Operator.js"
import type { WorkerResult } from "../roles/Operator.js"
import { SeniorBridge } from "../roles/SeniorBridge.js"
import { SpawnHook } from "../roles/SpawnHook.js"
import { RunEvents } from "../RunEvents.js"
import type { Seats } from "../Seats.js"
import type { SessionDirectory } from "../SessionDirectory.js"
import { Steps } from "../Steps.js"
import { blocked, failed, type Outcome, passed, skipped } from "./outcome.js"
import { withSeat } from "./seated.js"

export interface OperatorStep {
  readonly runId: RunId
  readonly blueprint: Blueprint
  readonly agent: OperatorAgent
  readonly stepId: StepId
  readonly attempt: number
  readonly input: unknown
  /** The rendered system prompt, or null. */
  readonly system: string | null
  /** This step's unfinished record from before a restart (resume). */
  readonly resumed?: StepRecord
}

export type OperatorStepDeps =
  | Seats
  | SessionDirectory
  | Capabilities
  | Steps
  | RunEvents
  | EngineConfig

export const ESCALATION_REASON = "worker reported ok=false"

/** The step value with staged artifact parts folded in. */
export const foldParts = (value: unknown, parts: Readonly<Record<string, unknown>> | undefined): unknown =>
  parts !== undefined && Object.keys(parts).length > 0 ? { out: value, parts } : value

/** `null`, `{}`, `""`: what an operator acks when its sub-agent was to submit the result. */
const isEmptyValue = (v: unknown): boolean =>
  v === null || v === undefined || v === "" ||
  (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0)

export const NO_RESULT = "no_result: the sub-agent submitted nothing (spawn_ack ok:true with an empty value and no " +
  "submit to /v1/worker/submit)"

/** What the worker's submission (or, without one, the spawn reply) makes of the step. */
const fromResult = (rec: StepRecord, result: WorkerResult | undefined): Outcome => {
  const stats = result?.stats
  const sub = rec.submission
  if (sub !== undefined) {
    const value = foldParts(sub.value, rec.parts)
    const outcome = sub.verdict === "pass"
      ? passed(value, stats)
      : sub.verdict === "blocked"
      ? blocked(value, "the worker submitted verdict blocked", stats)
      : skipped(value, stats)
    // the step record says which result won when the spawn_ack carried a value too
    return { ...outcome, source: "submit" }
  }
  if (result === undefined) return blocked(null, "the worker submitted nothing")
  if (result.ok && isEmptyValue(result.value) && rec.parts === undefined) return failed(NO_RESULT)
  const value = foldParts(result.value, rec.parts)
  return { ...(result.ok ? passed(value, stats) : blocked(value, ESCALATION_REASON, stats)), source: "spawn_ack" }
}

const messageOf = (e: unknown): string =>
  typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string"
    ? (e as { message: string }).message
    : String(e)

export const runOperatorStep = (s: OperatorStep): Effect.Effect<Outcome, never, OperatorStepDeps> =>
  Effect.gen(function*() {
    const caps = yield* Capabilities
    const steps = yield* Steps
    const events = yield* RunEvents
    const config = yield* EngineConfig
    const { agent, attempt, blueprint, runId, stepId } = s
    const seat = agent.operator
    const middleware = blueprint.middleware ?? []
    const mainAi = middleware.includes("main_ai")
    const seniorEscalation = middleware.includes("senior_escalation")
    const alias = blueprint.metadata?.project_name_alias
    const hookCtx = { taskId: stepId, runId, agent: agent.name, attempt }

    const setStatus = (status: "waiting_for_operator" | "running") =>
      steps.setStatus(stepId, status).pipe(Effect.zipRight(events.publish({
        type: "step_status",
        run_id: runId,
        step_id: stepId,
        ref: agent.name,
        attempt,
        status
      })))
    // request_sent / request_answered around one operator request
    const tracked = <A, E, R>(kind: string, sid: Sid, reqId: ReqId | undefined, effect: Effect.Effect<A, E, R>) => {
      const base = { run_id: runId, step_id: stepId, ref: agent.name, kind, sid, ...(reqId !== undefined ? { req_id: reqId } : {}) }
      return events.publish({ type: "request_sent", ...base }).pipe(
        Effect.zipRight(effect),
        Effect.tapBoth({
          onFailure: (e) => events.publish({ type: "request_answered", ...base, status: "error", message: messageOf(e) }),
          onSuccess: () => events.publish({ type: "request_answered", ...base, status: "ok" })
        })
      )
    }

    const context: Record<string, unknown> = {
      run_id: runId,
      agent: agent.name,
      attempt,
      ...(alias !== undefined ? { project_name_alias: alias } : {})
    }
    const prompt: PromptPayload = {
      task_id: stepId,
      run_id: runId,
      attempt,
      agent: agent.name,
      system: s.system,
      prompt: s.input,
      context
    }
    yield* steps.setPrompt(stepId, prompt)
    // minted per seat generation: a take-over hands out a new handle and token, and the old
    // ones are `superseded`
    let cap: Capability | undefined
    // after a restart the same request goes out again with its req_id, once, if it goes to the same session
    let resumedReqId = s.resumed?.spawn_req_id

    const spawn = withSeat(runId, seat, (holder) =>
      Effect.gen(function*() {
        if (mainAi) {
          const reqId = makeReqId(holder.sid, "hook_before")
          yield* tracked("hook_before", holder.sid, reqId, Effect.flatMap(SpawnHook, (h) => h.before({ ...hookCtx, reqId })))
        }
        // the seat may have been empty for a long time: do not hand out a token about to expire
        cap = cap === undefined || cap.generation !== holder.generation
          ? yield* caps.mint(stepId, runId, holder.generation)
          : yield* caps.refresh(cap)
        const current: Capability = cap
        const previous = resumedReqId
        resumedReqId = undefined
        const reqId = previous !== undefined && sidOfReqId(previous) === holder.sid
          ? previous
          : makeReqId(holder.sid, "spawn")
        yield* steps.spawnRecorded(stepId, reqId, holder.generation)
        const directive = renderDirective({
          agent: agent.name,
          taskId: stepId,
          baseUrl: config.publicUrl,
          workerHandle: current.handle,
          ...(alias !== undefined ? { alias } : {}),
          dataEndpoint: config.dataPath
        })
        return yield* tracked("spawn", holder.sid, reqId, Effect.flatMap(Operator, (op) =>
          op.execute({
            ...hookCtx,
            reqId,
            capabilityToken: current.token,
            workerHandle: current.handle,
            directive,
            // the handle stays the same (it is in the directive); its expiry moves with the token
            freshToken: Effect.map(caps.refresh(current), (fresh) => {
              if (cap?.generation === fresh.generation) cap = fresh
              return fresh.token
            })
          })))
      }), { onWait: setStatus("waiting_for_operator"), onSeated: setStatus("running") })

    // a step resumed after its worker already submitted needs no second spawn
    const alreadySubmitted = s.resumed?.submission !== undefined
    const spawned = alreadySubmitted
      ? Either.right<WorkerResult | undefined>(undefined)
      : yield* Effect.either(spawn)

    // read the submission and close the step to further worker input in one step
    const sealed = yield* steps.seal(stepId)
    if (Either.isLeft(spawned)) return failed(messageOf(spawned.left))
    if (Option.isNone(sealed)) return failed(`the record of step ${stepId} is missing`)
    const base = fromResult(sealed.value, spawned.right)

    let outcome = base
    if (base.status === "blocked" && seniorEscalation) {
      const question = { reason: ESCALATION_REASON, step: agent.name, value: base.value ?? null }
      const answer = yield* withSeat(runId, seat, (holder) => {
        const reqId = makeReqId(holder.sid, "ask")
        return tracked("ask", holder.sid, reqId, Effect.flatMap(SeniorBridge, (b) =>
          b.ask({ taskId: stepId, runId, question, reqId })))
      }).pipe(Effect.option)
      // a failed ask leaves the step blocked
      if (Option.isSome(answer)) {
        outcome = passed({ original: base.value ?? null, answer: answer.value }, base.stats)
      }
    }

    if (mainAi) {
      yield* withSeat(runId, seat, (holder) =>
        tracked("hook_after", holder.sid, undefined, Effect.flatMap(SpawnHook, (h) =>
          h.after(hookCtx, outcome.value ?? null)))).pipe(Effect.ignore)
    }
    return outcome
  })
