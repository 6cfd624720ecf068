/**
 * Decoding of operator → server frames (docs/operators.md, Frames; Frames the server refuses).
 * One text frame in, either a `PendingReply` with defaults applied or a `bad_frame`
 * problem whose one-line message says what is wrong and how to fix it.
 */
import { Either, identity, Option, ParseResult, Schema } from "effect"
import type { PendingReply } from "./frames.js"
import { cut, isTooDeep, MAX_JSON_DEPTH } from "./json.js"

export interface FrameProblem {
  readonly code: "bad_frame"
  readonly message: string
  readonly req_id?: string
}

/** The frame types an operator may send. */
export const FRAME_TYPES = ["answer", "hook_ack", "spawn_ack", "spawn_halt"] as const
export type OperatorFrameType = (typeof FRAME_TYPES)[number]

const acceptedTypes = FRAME_TYPES.join(", ")

export const binaryFrameProblem: FrameProblem = {
  code: "bad_frame",
  message: "binary frames are not accepted; send each frame as one JSON object in a text frame"
}

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// The `message` annotation becomes the ArrayFormatter message of a Type issue, so the
// problem can say "must be a boolean" without a second table of expected types.
const Str = Schema.String.annotations({ message: () => "a string" })
const Bool = Schema.Boolean.annotations({ message: () => "a boolean" })
const optionalStr = Schema.optionalWith(Str, { exact: true })

const PlainObject = Schema.declare(isPlainObject, { identifier: "PlainObject" })

// `stats` never fails a reply: a non-object is dropped, not reported.
const Stats = Schema.optionalToOptional(Schema.Unknown, PlainObject, {
  decode: Option.filter(isPlainObject),
  encode: identity
})

const Answer = Schema.Struct({
  type: Schema.Literal("answer"),
  req_id: Str,
  value: Schema.Unknown
})

const HookAck = Schema.Struct({
  type: Schema.Literal("hook_ack"),
  req_id: Str,
  ok: Bool,
  reason: optionalStr
})

const SpawnAck = Schema.Struct({
  type: Schema.Literal("spawn_ack"),
  req_id: Str,
  value: Schema.optionalWith(Schema.Unknown, { default: () => null, exact: true }),
  ok: Schema.optionalWith(Bool, { default: () => true, exact: true }),
  error: optionalStr,
  stats: Stats
})

const SpawnHalt = Schema.Struct({
  type: Schema.Literal("spawn_halt"),
  req_id: Str,
  value: Schema.optionalWith(Schema.Unknown, { default: () => null, exact: true }),
  reason: optionalStr
})

// `exact: true` makes a missing key a Missing issue even when the field's type admits
// undefined; without it `answer` with no `value` would decode as value: undefined.
const parseOptions = { errors: "all", exact: true } as const

const decoders: {
  readonly [K in OperatorFrameType]: (u: unknown) => Either.Either<PendingReply, ParseResult.ParseError>
} = {
  answer: Schema.decodeUnknownEither(Answer, parseOptions),
  hook_ack: Schema.decodeUnknownEither(HookAck, parseOptions),
  spawn_ack: Schema.decodeUnknownEither(SpawnAck, parseOptions),
  spawn_halt: Schema.decodeUnknownEither(SpawnHalt, parseOptions)
}

/** What the operator should put in a field it left out. */
const fieldHint: Readonly<Record<string, string>> = {
  req_id: "the req_id of the request being answered",
  value: "any JSON, null allowed",
  ok: "a boolean"
}

const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  switch (typeof u) {
    case "string":
      return "a string"
    case "number":
      return "a number"
    case "boolean":
      return "a boolean"
    case "object":
      return "an object"
    default:
      return typeof u
  }
}

// Defence only: V8's JSON.parse messages are short (under 80 characters) and never start or
// end with blanks, and the schema's own messages never reach here (see describeIssue).
const oneLine = (s: string, max = 160): string => {
  // Stryker disable next-line MethodExpression: no message reaching here has blanks at either end
  const flat = s.replace(/\s+/g, " ").trim()
  // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral,MethodExpression: no message reaching here is longer than 160
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

// an error frame is never large: echoed ids and quotes are cut to 200
const problem = (message: string, reqId: string | undefined): FrameProblem =>
  reqId === undefined
    ? { code: "bad_frame", message: cut(message, 1000) }
    : { code: "bad_frame", message: cut(message, 1000), req_id: cut(reqId) }

// Stryker disable next-line StringLiteral: every decoded field is top level, so a path has one element
const fieldName = (path: ReadonlyArray<PropertyKey>): string => path.map(String).join(".")

const describeIssue = (issue: ParseResult.ArrayFormatterIssue, frame: Record<string, unknown>): string => {
  const name = fieldName(issue.path)
  if (issue._tag === "Missing") {
    const hint = fieldHint[name]
    // Stryker disable next-line ConditionalExpression,StringLiteral: every field that can be missing (req_id, value, ok) has a hint
    return hint === undefined ? `missing field \`${name}\`` : `missing field \`${name}\` (${hint})`
  }
  // Stryker disable next-line ConditionalExpression,LogicalOperator: with these schemas every issue is Missing or a Type issue of a top-level field
  if (issue._tag === "Type" && issue.path.length === 1) {
    return `field \`${name}\` must be ${issue.message}, got ${describe(frame[name])}`
  }
  // Stryker disable next-line StringLiteral: unreachable (above), kept as a defence
  return `field \`${name}\`: ${oneLine(issue.message)}`
}

/**
 * Decode one operator text frame. Right: the reply with defaults applied and unknown
 * fields dropped. Left: a `bad_frame` problem, carrying the frame's `req_id` when it
 * had a string one.
 */
export const decodeOperatorFrame = (text: string): Either.Either<PendingReply, FrameProblem> => {
  if (isTooDeep(text)) {
    return Either.left(
      problem(`frame nests JSON deeper than ${MAX_JSON_DEPTH} levels; send at most ${MAX_JSON_DEPTH} nested objects/arrays`, undefined)
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    return Either.left(
      problem(`frame is not valid JSON: ${oneLine(reason)}; send one JSON object per text frame`, undefined)
    )
  }
  if (!isPlainObject(parsed)) {
    return Either.left(
      problem(`frame must be a JSON object, got ${describe(parsed)}; send one JSON object per text frame`, undefined)
    )
  }
  const reqId = typeof parsed.req_id === "string" ? parsed.req_id : undefined
  if (!("type" in parsed)) {
    return Either.left(problem(`missing field \`type\`; set it to one of: ${acceptedTypes}`, reqId))
  }
  const type = parsed.type
  if (typeof type !== "string") {
    return Either.left(
      problem(`field \`type\` must be a string, got ${describe(type)}; use one of: ${acceptedTypes}`, reqId)
    )
  }
  if (!(FRAME_TYPES as ReadonlyArray<string>).includes(type)) {
    return Either.left(
      // quoted as sent (JSON escapes keep it on one line): trimming would turn "spawn_ack " into an accepted name
      problem(`unknown frame type ${JSON.stringify(type.length > 60 ? `${type.slice(0, 60)}…` : type)}; accepted types: ${acceptedTypes}`, reqId)
    )
  }
  const frame = parsed
  return decoders[type as OperatorFrameType](frame).pipe(
    Either.mapLeft((error) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
      // Stryker disable next-line MethodExpression: a frame has at most 3 fields that can fail (spawn_ack: req_id, ok, error)
      const details = issues.slice(0, 10).map((issue) => describeIssue(issue, frame)).join("; ")
      return problem(`bad \`${type}\` frame: ${details}`, reqId)
    })
  )
}
