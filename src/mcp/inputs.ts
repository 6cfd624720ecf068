/**
 * The input of every MCP tool, declared once as effect/Schema: the adapter decodes the
 * arguments with it and `tools/list` shows the JSON Schema generated from it, so what an
 * agent is told and what the adapter accepts cannot drift apart. JSON-valued inputs carry
 * an explicit JSON type (MCP clients drop or stringify fields without one).
 */
import { JSONSchema, ParseResult, Schema } from "effect"

const exact = <S extends Schema.Schema.All>(s: S) => Schema.optionalWith(s, { exact: true })

export const JSON_TYPES = ["object", "array", "string", "number", "boolean", "null"] as const

/** Any JSON value, declared as the list of JSON types. */
const jsonValue = (description: string) =>
  Schema.Unknown.annotations({ jsonSchema: { type: JSON_TYPES, description }, description })

/** A JSON object (an array or a scalar is refused with a message that says so). */
const jsonObject = (what: string, description: string) =>
  Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    jsonSchema: { type: "object", description },
    description,
    message: () => ({ message: `${what} must be a JSON object`, override: true })
  })

/** One of `values`, with a message that lists them. */
const oneOf = <L extends ReadonlyArray<string>>(what: string, values: L, description: string) =>
  Schema.Literal(...(values as unknown as [L[number], ...Array<L[number]>])).annotations({
    description,
    message: (issue) => ({
      message: `${what} must be one of ${values.join(", ")}, got ${JSON.stringify(issue.actual)}`,
      override: true
    })
  })

const Text = (description: string) => Schema.String.annotations({ description })
const NonEmpty = (what: string, description: string) =>
  Schema.String.pipe(
    Schema.filter((s) => s.trim() !== "" || `${what} must not be empty`, { jsonSchema: { minLength: 1 } })
  ).annotations({ description })

const Sid = NonEmpty("sid", "the operator session id (S-...) operator_join returned")
const RunId = NonEmpty("run_id", "the run id (R-...) run_start returned")
const Handle = NonEmpty("worker_handle", "the worker_handle line of the sub-agent's prompt (wh-...)")

export const WAIT_DEFAULT_MS = 30_000
export const WAIT_MAX_MS = 300_000

const intBetween = (min: number, max: number, description: string) =>
  Schema.Number.pipe(
    Schema.filter((n) => Number.isInteger(n) && n >= min && n <= max || `must be a whole number from ${min} to ${max}`, {
      jsonSchema: { type: "integer", minimum: min, maximum: max, description }
    })
  )

export const ackKinds = ["answer", "hook_ack", "spawn_ack", "spawn_halt"] as const
export type AckKind = (typeof ackKinds)[number]

export const verdicts = ["pass", "blocked", "skip"] as const

export const inputs = {
  operator_join: Schema.Struct({
    desc: exact(Text("what this operator is, shown to other operators (at most 200 characters)"))
  }),
  operator_leave: Schema.Struct({ sid: Sid }),
  pending_wait: Schema.Struct({
    sid: Sid,
    timeout_ms: exact(intBetween(0, WAIT_MAX_MS, `how long to wait for a request (default ${WAIT_DEFAULT_MS})`))
  }),
  ack: Schema.Struct({
    sid: Sid,
    req_id: NonEmpty("req_id", "the req_id of a request pending_wait handed out"),
    kind: oneOf("kind", ackKinds, "answer for an ask, hook_ack for a hook_before, spawn_ack or spawn_halt for a spawn"),
    value: exact(jsonValue(
      "answer: the answer (required); spawn_ack/spawn_halt: a value (default null; leave it out after a sub-agent submitted)"
    )),
    ok: exact(Schema.Boolean.annotations({
      description: "hook_ack: whether the spawn may go ahead (required); spawn_ack: false when the sub-agent could not be started (default true)"
    })),
    reason: exact(Text("hook_ack with ok false, or spawn_halt: why")),
    error: exact(Text("spawn_ack: what went wrong (makes the step fail)"))
  }),
  worker_fetch: Schema.Struct({ worker_handle: Handle }),
  worker_submit: Schema.Struct({
    worker_handle: Handle,
    body: Text("the raw result: text, or JSON text for a structured result"),
    verdict: exact(oneOf("verdict", verdicts, "pass (default), blocked (the step fails the flow) or skip")),
    name: exact(NonEmpty("name", "stage a named part instead of submitting the result ([A-Za-z0-9._-], 1-128 characters)"))
  }),
  run_start: Schema.Struct({
    blueprint: Schema.Union(
      NonEmpty("blueprint", "the id of a stored blueprint"),
      jsonObject("blueprint", "an inline blueprint (its JSON Schema: resource swarmgate://schema/blueprint.json)")
    ).annotations({
      description: "the id of a stored blueprint, or an inline blueprint object",
      message: () => ({
        message: "blueprint must be the id of a stored blueprint (a string) or an inline blueprint (a JSON object)",
        override: true
      })
    }),
    input: exact(jsonObject("input", "the run's input, merged over the blueprint's default_input")),
    sid: exact(Sid.annotations({ description: "seat this operator session in every operator seat of the run" }))
  }),
  run_status: Schema.Struct({ run_id: RunId }),
  run_cancel: Schema.Struct({ run_id: RunId }),
  run_acquire: Schema.Struct({
    run_id: RunId,
    sid: Sid,
    slot: exact(Text("the seat to take over; may be left out when the run has one seat"))
  }),
  operators_list: Schema.Struct({ sid: Sid })
} as const

export type ToolName = keyof typeof inputs
export type Input<T extends ToolName> = Schema.Schema.Type<(typeof inputs)[T]>

/** The JSON Schema of a tool's input, as `tools/list` shows it (no `$schema`, definitions inlined). */
export const inputJsonSchema = (name: ToolName): { type: "object"; [k: string]: unknown } => {
  const { $schema: _, ...schema } = JSONSchema.make(inputs[name] as Schema.Schema<unknown, unknown>) as unknown as Record<
    string,
    unknown
  >
  if (schema.$defs !== undefined) throw new Error(`the input schema of ${name} must not need $defs`)
  return { ...schema, type: "object" }
}

/** Decodes arguments strictly; the error lists every problem as `field: what is wrong`. */
export const decodeInput = <T extends ToolName>(name: T, args: unknown) =>
  Schema.decodeUnknownEither(inputs[name] as unknown as Schema.Schema<Input<T>, unknown>, {
    errors: "all",
    onExcessProperty: "error",
    exact: true
  })(args ?? {}).pipe((either) =>
    either._tag === "Right"
      ? either
      : {
        _tag: "Left" as const,
        left: ParseResult.ArrayFormatter.formatErrorSync(either.left)
          .map((issue) => `${issue.path.length === 0 ? "arguments" : issue.path.join(".")}: ${issue.message}`)
          .join("; ")
      }
  )
