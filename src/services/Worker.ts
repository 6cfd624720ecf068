/**
 * The sub-agent's verbs behind `/v1/worker/*` and `/v1/data/*` (docs/http.md). Every verb
 * first checks the credential (handle or token) and resolves the one step it is bound to.
 * Input for a step that has finished (or been sealed by the engine, which it is when its
 * run ends) is refused with StepGone and changes nothing: Steps decides, under the step's
 * lock. Accepted input is stored before the verb returns.
 */
import { createHash } from "node:crypto"
import { Cause, Clock, Context, Effect, Exit, Layer, Option } from "effect"
import { isOutId, makeReqId, newOutId } from "../protocol/ids.js"
import { seatedWith } from "./agents/seated.js"
import { Capabilities, type StepBinding } from "./Capabilities.js"
import { withParentRequest } from "./CurrentRequest.js"
import {
  type AlreadySubmitted,
  AskFailed,
  type BadCredential,
  BadWorkerInput,
  type CredentialExpired,
  OutputNotFound,
  StepGone,
  type Superseded,
  VerdictRefused,
  WrongStep
} from "./EngineErrors.js"
import { parseResultBody } from "./parseResult.js"
import { OutputRepo, type OutputRecord } from "./repos/OutputRepo.js"
import type { PromptPayload, Verdict } from "../protocol/records.js"
import { SeniorBridge } from "./roles/SeniorBridge.js"
import { RunEvents } from "./RunEvents.js"
import { Seats } from "./Seats.js"
import { SessionDirectory } from "./SessionDirectory.js"
import { Steps } from "./Steps.js"

type CredentialError = BadCredential | CredentialExpired
/** Why a verified credential's step takes no input (finished/sealed, or taken over). */
type Refused = StepGone | Superseded

export interface Submitted {
  readonly task_id: string
  readonly bytes: number
}

export interface StagedPart {
  readonly task_id: string
  readonly name: string
  readonly bytes: number
}

export interface Emitted {
  readonly out_id: string
  readonly name: string
  readonly bytes: number
  readonly sha256: string
}

export interface DataBody {
  readonly out_id: string
  readonly name: string
  readonly content_type: string
  readonly body: Uint8Array
}

/**
 * What a verb is called with: the step binding the HTTP edge already verified, or a raw
 * handle / capability token (verified here; in-process callers and tests).
 */
export type WorkerCredential = StepBinding | string

/** Who reads the data path: a worker (only its own run's outputs) or an operator (any). */
export type DataAccess =
  | { readonly _tag: "worker"; readonly credential: WorkerCredential }
  | { readonly _tag: "operator" }

export interface WorkerShape {
  /** `GET /v1/worker/prompt`; `taskId` (if given) must be the credential's step. */
  readonly prompt: (
    credential: WorkerCredential,
    taskId?: string
  ) => Effect.Effect<PromptPayload, CredentialError | WrongStep | Refused>
  /** `POST /v1/worker/submit?verdict=`; the raw body is parsed as in parseResult.ts. */
  readonly submit: (
    credential: WorkerCredential,
    body: string | Uint8Array,
    verdict?: Verdict
  ) => Effect.Effect<Submitted, CredentialError | Refused | AlreadySubmitted | VerdictRefused>
  /** `POST /v1/worker/result` `{value, ok}`: ok → verdict pass, else blocked. */
  readonly result: (
    credential: WorkerCredential,
    result: { readonly value: unknown; readonly ok: boolean }
  ) => Effect.Effect<Submitted, CredentialError | Refused | AlreadySubmitted | VerdictRefused>
  /** `POST /v1/worker/artifact?name=`: stage a named part (parsed like a submit). */
  readonly artifact: (
    credential: WorkerCredential,
    name: string,
    body: string | Uint8Array
  ) => Effect.Effect<StagedPart, CredentialError | Refused | AlreadySubmitted | BadWorkerInput>
  /** `POST /v1/worker/ask`: an `ask` to the seat's session, nested under the step's spawn. */
  readonly ask: (
    credential: WorkerCredential,
    question: unknown
  ) => Effect.Effect<{ readonly answer: unknown }, CredentialError | Refused | AskFailed>
  /** `POST /v1/data/emit?name=`. */
  readonly emit: (
    credential: WorkerCredential,
    name: string,
    body: Uint8Array,
    contentType?: string
  ) => Effect.Effect<Emitted, CredentialError | Refused | BadWorkerInput>
  /** `GET /v1/data/:ref`: ref = out_id, or a name (latest output of that name in the run). */
  readonly getData: (
    access: DataAccess,
    ref: string
  ) => Effect.Effect<DataBody, CredentialError | WrongStep | OutputNotFound>
}

const byteLength = (body: string | Uint8Array): number =>
  typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength

export class Worker extends Context.Tag("swarmgate/Worker")<Worker, WorkerShape>() {
  static readonly layer: Layer.Layer<
    Worker,
    never,
    Capabilities | Steps | OutputRepo | RunEvents | Seats | SessionDirectory
  > = Layer.effect(
    Worker,
    Effect.gen(function*() {
      const caps = yield* Capabilities
      const steps = yield* Steps
      const outputs = yield* OutputRepo
      const events = yield* RunEvents
      // the seat services once, here: an ask no longer provides them per request
      const withSeat = seatedWith(yield* Seats, yield* SessionDirectory)

      const verified = (credential: WorkerCredential) =>
        typeof credential === "string" ? caps.verify(credential) : Effect.succeed(credential)

      const store = (credential: WorkerCredential, value: unknown, verdict: Verdict, bytes: number) =>
        Effect.gen(function*() {
          const binding = yield* verified(credential)
          const at = new Date(yield* Clock.currentTimeMillis).toISOString()
          const s = yield* steps.acceptSubmission(binding.stepId, { value, verdict, at }, binding.generation)
          return { task_id: s.step_id, bytes }
        })

      const prompt: WorkerShape["prompt"] = (credential, taskId) =>
        Effect.gen(function*() {
          const binding = yield* verified(credential)
          if (taskId !== undefined && taskId !== binding.stepId) {
            return yield* new WrongStep({ message: `this credential belongs to another step than ${taskId}` })
          }
          const s = yield* steps.takingInput(binding.stepId, binding.generation)
          if (s.prompt === undefined) {
            return yield* new StepGone({
              stepId: s.step_id,
              // Stryker disable next-line StringLiteral: unreachable, a credential is minted only for an operator step, after its prompt is stored
              message: `step ${s.step_id} takes no more input: it has no prompt (not an operator step)`
            })
          }
          return s.prompt
        })

      const artifact: WorkerShape["artifact"] = (credential, name, body) =>
        Effect.gen(function*() {
          if (name.trim() === "") return yield* new BadWorkerInput({ message: "name: give the part a non-empty name" })
          const binding = yield* verified(credential)
          const part = parseResultBody(body)
          const s = yield* steps.stagePart(binding.stepId, name, part, binding.generation)
          return { task_id: s.step_id, name, bytes: byteLength(body) }
        })

      const ask: WorkerShape["ask"] = (credential, question) =>
        Effect.gen(function*() {
          const binding = yield* verified(credential)
          const s = yield* steps.takingInput(binding.stepId, binding.generation)
          if (s.seat === undefined) {
            // Stryker disable next-line StringLiteral: unreachable, a credential is minted only for an operator step, which has a seat
            return yield* new AskFailed({ message: `step ${s.step_id} has no operator seat to ask` })
          }
          const seat = s.seat
          const base = { run_id: s.run_id, step_id: s.step_id, ref: s.ref, kind: "ask" }
          const answer = yield* withSeat(s.run_id, seat, (holder, roles) => {
            const reqId = makeReqId(holder.sid, "ask")
            // the holder's roles are in hand: no lookup of the bridge in the context
            const call = Context.get(roles, SeniorBridge).ask({ taskId: s.step_id, runId: s.run_id, question, reqId })
            const answered = { ...base, type: "request_answered" as const, req_id: reqId, sid: holder.sid }
            return events.publish({ type: "request_sent", ...base, req_id: reqId, sid: holder.sid }).pipe(
              Effect.zipRight(s.spawn_req_id !== undefined ? withParentRequest(call, s.spawn_req_id) : call),
              // every ask sent is answered in the log, as operator requests of the step are: a
              // failed one with why, and one interrupted (the worker went away, the seat changed
              // hands) too — `onExit` runs on interruption, a tap on the error would not
              Effect.onExit((exit) =>
                events.publish(
                  Exit.isSuccess(exit) ? { ...answered, status: "ok" } : {
                    ...answered,
                    status: "error",
                    message: Option.match(Cause.failureOption(exit.cause), {
                      onNone: () => "the ask was withdrawn: its worker stopped waiting or the seat changed hands",
                      onSome: (e) => e.message
                    })
                  }
                )
              )
            )
          }).pipe(
            // the worker's HTTP request is not the run: a cancelled run ends the ask with an error, not an interrupt
            Effect.catchAllCause((cause) =>
              Effect.fail(
                new AskFailed({
                  message: Option.match(Cause.failureOption(cause), {
                    onNone: () => "the ask was withdrawn (run_cancelled)",
                    onSome: (e) => e.message
                  })
                })
              )
            )
          )
          return { answer }
        })

      const emit: WorkerShape["emit"] = (credential, name, body, contentType) =>
        Effect.gen(function*() {
          if (name.trim() === "") return yield* new BadWorkerInput({ message: "name: give the output a non-empty name" })
          const binding = yield* verified(credential)
          const s = yield* steps.takingInput(binding.stepId, binding.generation)
          const record: OutputRecord = {
            out_id: newOutId(),
            run_id: s.run_id,
            step_id: s.step_id,
            name,
            content_type: contentType ?? "application/octet-stream",
            body,
            bytes: body.byteLength,
            sha256: createHash("sha256").update(body).digest("hex"),
            created_at: new Date(yield* Clock.currentTimeMillis).toISOString()
          }
          yield* outputs.put(record)
          return { out_id: record.out_id, name, bytes: record.bytes, sha256: record.sha256 }
        })

      const getData: WorkerShape["getData"] = (access, ref) =>
        Effect.gen(function*() {
          const runId = access._tag === "worker" ? (yield* verified(access.credential)).runId : undefined
          const found = isOutId(ref) ? yield* outputs.get(ref) : yield* outputs.latestByName(runId, ref)
          if (Option.isNone(found)) return yield* new OutputNotFound({ ref, message: `no output ${ref}` })
          const o = found.value
          if (runId !== undefined && o.run_id !== runId) {
            return yield* new WrongStep({ message: `output ${ref} belongs to another run than this credential's` })
          }
          return { out_id: o.out_id, name: o.name, content_type: o.content_type, body: o.body }
        })

      return {
        prompt,
        submit: (credential, body, verdict = "pass") => store(credential, parseResultBody(body), verdict, byteLength(body)),
        result: (credential, { ok, value }) =>
          store(credential, value, ok ? "pass" : "blocked", Buffer.byteLength(JSON.stringify(value ?? null), "utf8")),
        artifact,
        ask,
        emit,
        getData
      }
    })
  )
}

