/**
 * Id shapes of the vocabulary (spec README) and their constructors.
 * Every random part comes from node:crypto (a CSPRNG).
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto"
import { type RequestKind, reqIdKindTag } from "./frames.js"

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

export const newSid = (): string => `S-${hex(16)}`
export const newTaskId = (): string => `T-${hex64()}`
export const newRunId = (): string => `R-${hex64()}`
export const newStepId = (): string => `ST-${hex64()}`
export const newOutId = (): string => `out-${hex64()}`
/** 128-bit operator session token, 32 hex; only its SHA-256 digest is stored. */
export const newSessionToken = (): string => hex(16)

const handleAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
/** `wh-` + 12 of [a-z0-9]: 12 × log2(36) ≈ 62 bits. */
export const newWorkerHandle = (): string => {
  let out = "wh-"
  for (let i = 0; i < 12; i++) out += handleAlphabet[randomInt(handleAlphabet.length)]
  return out
}

export const makeReqId = (sid: string, kind: RequestKind | "hook_after"): string =>
  `${sid}-${reqIdKindTag[kind]}-${randomUUID()}`

const uuidV4 = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

export const isSid = (s: string): boolean => /^S-[0-9a-f]{32}$/.test(s)
export const isTaskId = (s: string): boolean => /^T-[0-9a-f]{16}$/.test(s)
export const isRunId = (s: string): boolean => /^R-[0-9a-f]{16}$/.test(s)
export const isStepId = (s: string): boolean => /^ST-[0-9a-f]{16}$/.test(s)
export const isOutId = (s: string): boolean => /^out-[0-9a-f]{16}$/.test(s)
export const isSessionToken = (s: string): boolean => /^[0-9a-f]{32}$/.test(s)
export const isWorkerHandle = (s: string): boolean => /^wh-[a-z0-9]{12}$/.test(s)
const reqIdPattern = new RegExp(`^(S-[0-9a-f]{32})-(ask|hb|ha|spawn)-(${uuidV4})$`)
export const isReqId = (s: string): boolean => reqIdPattern.test(s)
/** The sid a req_id was minted for, or undefined when it is not a req_id. */
export const sidOfReqId = (s: string): string | undefined => reqIdPattern.exec(s)?.[1]
