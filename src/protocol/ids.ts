/**
 * Id shapes of the vocabulary and their constructors: each id is declared once, as a
 * branded `effect/Schema` string, and every record, repository and frame takes its type
 * from here. Every random part comes from node:crypto (a CSPRNG).
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto"
import { Schema } from "effect"
import { type RequestKind, reqIdKindTag } from "./frames.js"

const uuidV4 = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
const reqIdPattern = new RegExp(`^(S-[0-9a-f]{32})-(ask|hb|ha|spawn)-(${uuidV4})$`)

/** Operator session id: `S-` + 32 hex. */
export const Sid = Schema.String.pipe(Schema.pattern(/^S-[0-9a-f]{32}$/), Schema.brand("Sid"))
export type Sid = typeof Sid.Type
/** `T-` + 16 hex. */
export const TaskId = Schema.String.pipe(Schema.pattern(/^T-[0-9a-f]{16}$/), Schema.brand("TaskId"))
export type TaskId = typeof TaskId.Type
/** `R-` + 16 hex. */
export const RunId = Schema.String.pipe(Schema.pattern(/^R-[0-9a-f]{16}$/), Schema.brand("RunId"))
export type RunId = typeof RunId.Type
/** `ST-` + 16 hex; the wire calls it `task_id` (frames, worker endpoints). */
export const StepId = Schema.String.pipe(Schema.pattern(/^ST-[0-9a-f]{16}$/), Schema.brand("StepId"))
export type StepId = typeof StepId.Type
/** `<sid>-<ask|hb|ha|spawn>-<uuid v4>`. */
export const ReqId = Schema.String.pipe(Schema.pattern(reqIdPattern), Schema.brand("ReqId"))
export type ReqId = typeof ReqId.Type
/** `out-` + 16 hex: an output on the data path. */
export const OutputId = Schema.String.pipe(Schema.pattern(/^out-[0-9a-f]{16}$/), Schema.brand("OutputId"))
export type OutputId = typeof OutputId.Type

const hex = (bytes: number): string => randomBytes(bytes).toString("hex")

/**
 * 16 hex digits (64 bits) from a v4 UUID: its first group (8 digits) and the first 8 of
 * its last group are all random. `randomUUID` draws from node:crypto's CSPRNG through
 * Node's own entropy cache, which is far cheaper per call than `randomBytes(8)`; these ids
 * are minted per step.
 */
const hex64 = (): string => {
  const u = randomUUID()
  return u.slice(0, 8) + u.slice(24, 32)
}

// minted in the declared shape, so the brand is given without re-checking the pattern
export const newSid = (): Sid => `S-${hex(16)}` as Sid
export const newTaskId = (): TaskId => `T-${hex64()}` as TaskId
export const newRunId = (): RunId => `R-${hex64()}` as RunId
export const newStepId = (): StepId => `ST-${hex64()}` as StepId
export const newOutId = (): OutputId => `out-${hex64()}` as OutputId
/** 128-bit operator session token, 32 hex; only its SHA-256 digest is stored. */
export const newSessionToken = (): string => hex(16)

const handleAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
/** `wh-` + 12 of [a-z0-9]: 12 × log2(36) ≈ 62 bits. */
export const newWorkerHandle = (): string => {
  let out = "wh-"
  for (let i = 0; i < 12; i++) out += handleAlphabet[randomInt(handleAlphabet.length)]
  return out
}

/** `sid` is a plain string so callers holding an unbranded sid need no cast. */
export const makeReqId = (sid: string, kind: RequestKind | "hook_after"): ReqId =>
  `${sid}-${reqIdKindTag[kind]}-${randomUUID()}` as ReqId

export const isSid: (s: string) => s is Sid = Schema.is(Sid)
export const isTaskId: (s: string) => s is TaskId = Schema.is(TaskId)
export const isRunId: (s: string) => s is RunId = Schema.is(RunId)
export const isStepId: (s: string) => s is StepId = Schema.is(StepId)
export const isOutId: (s: string) => s is OutputId = Schema.is(OutputId)
export const isSessionToken = (s: string): boolean => /^[0-9a-f]{32}$/.test(s)
export const isWorkerHandle = (s: string): boolean => /^wh-[a-z0-9]{12}$/.test(s)
export const isReqId: (s: string) => s is ReqId = Schema.is(ReqId)
/** Whether `s` is the req_id of a `hook_after` (a notification that takes no reply). */
export const isHookAfterReqId = (s: string): boolean => reqIdPattern.exec(s)?.[2] === "ha"
/** The sid a req_id was minted for, or undefined when it is not a req_id. */
export const sidOfReqId = (s: string): Sid | undefined => reqIdPattern.exec(s)?.[1] as Sid | undefined
