/**
 * The blueprint document (docs/blueprints.md): TS types plus the Schema that decodes it.
 *
 * Decode through `validateBlueprint` (services/flow/validate.ts), not this schema alone: the
 * schema checks shape only; agent references, seats, duplicate names and path syntax are
 * checked there, and every problem comes back at once with its JSON path.
 *
 * Decisions where the spec is silent:
 * - `id` is optional (the id of `PUT /v1/blueprints/:id` comes from the URL).
 * - `operators` is optional (no seats); `agents` and `flow` are required.
 * - `metadata` is an object of any JSON values; `project_name_alias`, when given, is a string.
 * - `branch.else` and `try.err_at` are optional; every other node field listed in the spec
 *   is required.
 * - `subprocess.stdin` stays optional here; absent means true.
 * - `loop.max` is a non-negative integer; `subprocess.timeout_ms` a positive integer.
 */
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

export const middlewareNames = ["main_ai", "senior_escalation"] as const
export type MiddlewareName = (typeof middlewareNames)[number]

export const builtinFns = ["identity", "fail", "sleep", "echo"] as const
export type BuiltinFn = (typeof builtinFns)[number]

export const fanoutJoins = ["all", "any", "race", "all_settled"] as const
export type FanoutJoin = (typeof fanoutJoins)[number]

export const compareOps = ["eq", "ne", "lt", "lte", "gt", "gte"] as const
export type CompareOp = (typeof compareOps)[number]

export const arithOps = ["add", "sub", "mul", "div", "mod"] as const
export type ArithOp = (typeof arithOps)[number]

// ---------------------------------------------------------------------------
// Expressions (tagged by `op`)
// ---------------------------------------------------------------------------

export interface PathExpr { readonly op: "path"; readonly at: string }
export interface LitExpr { readonly op: "lit"; readonly value: unknown }
export interface CompareExpr { readonly op: CompareOp; readonly lhs: Expr; readonly rhs: Expr }
export interface ArithExpr { readonly op: ArithOp; readonly lhs: Expr; readonly rhs: Expr }
export interface NotExpr { readonly op: "not"; readonly arg: Expr }
export interface ExistsExpr { readonly op: "exists"; readonly arg: Expr }
export interface LenExpr { readonly op: "len"; readonly arg: Expr }
export interface AndOrExpr { readonly op: "and" | "or"; readonly args: ReadonlyArray<Expr> }
export interface InExpr { readonly op: "in"; readonly needle: Expr; readonly haystack: Expr }
export interface ObjExpr { readonly op: "obj"; readonly fields: { readonly [name: string]: Expr } }

export type Expr =
  | PathExpr
  | LitExpr
  | CompareExpr
  | ArithExpr
  | NotExpr
  | ExistsExpr
  | LenExpr
  | AndOrExpr
  | InExpr
  | ObjExpr

// ---------------------------------------------------------------------------
// Flow nodes (tagged by `kind`)
// ---------------------------------------------------------------------------

export interface StepNode {
  readonly kind: "step"
  /** Agent name. */
  readonly ref: string
  readonly in: Expr
  /** Path the step's value is written to. */
  readonly out: string
}
export interface SeqNode { readonly kind: "seq"; readonly children: ReadonlyArray<FlowNode> }
export interface BranchNode {
  readonly kind: "branch"
  readonly cond: Expr
  readonly then: FlowNode
  /** Absent: nothing happens when `cond` is false. */
  readonly else?: FlowNode
}
export interface LoopNode {
  readonly kind: "loop"
  readonly counter: string
  readonly cond: Expr
  readonly body: FlowNode
  readonly max: number
}
export interface FanoutNode {
  readonly kind: "fanout"
  readonly items: Expr
  readonly bind: string
  readonly body: FlowNode
  readonly join: FanoutJoin
  readonly out: string
}
export interface TryNode {
  readonly kind: "try"
  readonly body: FlowNode
  readonly catch: FlowNode
  readonly err_at?: string
}
export interface AssignNode { readonly kind: "assign"; readonly at: string; readonly value: Expr }

export type FlowNode = StepNode | SeqNode | BranchNode | LoopNode | FanoutNode | TryNode | AssignNode

// ---------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------

const exact = <S extends Schema.Schema.All>(s: S) => Schema.optionalWith(s, { exact: true })

/** A value that came out of JSON; the shape is not checked further. */
export const JsonValue = Schema.Unknown.annotations({ description: "any JSON value" })

/** Path strings are plain strings here; their syntax is checked by validateBlueprint. */
const PathString = Schema.String

const literalOf = <L extends ReadonlyArray<string>>(what: string, values: L) =>
  Schema.Literal(...(values as unknown as [L[number], ...Array<L[number]>])).annotations({
    message: (issue) => ({
      message: `unknown ${what} ${JSON.stringify(issue.actual)}: use one of ${values.join(", ")}`,
      override: true
    })
  })

export const MiddlewareNameSchema = literalOf("middleware", middlewareNames)
export const BuiltinFnSchema = literalOf("builtin fn", builtinFns)
export const FanoutJoinSchema = literalOf("fanout join", fanoutJoins)

const Sub = Schema.suspend((): Schema.Schema<Expr> => ExprSchema)
const binary = <Op extends string>(op: Op) => Schema.Struct({ op: Schema.Literal(op), lhs: Sub, rhs: Sub })
const unary = <Op extends string>(op: Op) => Schema.Struct({ op: Schema.Literal(op), arg: Sub })

// One struct per op (not one per op family) so a bad expression is reported against its
// own op only, instead of against every member of the union.
export const ExprSchema: Schema.Schema<Expr> = Schema.Union(
  Schema.Struct({ op: Schema.Literal("path"), at: PathString }),
  Schema.Struct({ op: Schema.Literal("lit"), value: JsonValue }),
  ...compareOps.map(binary),
  ...arithOps.map(binary),
  unary("not"),
  unary("exists"),
  unary("len"),
  Schema.Struct({ op: Schema.Literal("and"), args: Schema.Array(Sub) }),
  Schema.Struct({ op: Schema.Literal("or"), args: Schema.Array(Sub) }),
  Schema.Struct({ op: Schema.Literal("in"), needle: Sub, haystack: Sub }),
  Schema.Struct({ op: Schema.Literal("obj"), fields: Schema.Record({ key: Schema.String, value: Sub }) })
).annotations({ [AST.JSONIdentifierAnnotationId]: "Expression" }) // names the recursion in the JSON Schema

const Node = Schema.suspend((): Schema.Schema<FlowNode> => FlowNodeSchema)

export const StepNodeSchema = Schema.Struct({
  kind: Schema.Literal("step"),
  ref: Schema.String,
  in: ExprSchema,
  out: PathString
})

export const FlowNodeSchema: Schema.Schema<FlowNode> = Schema.Union(
  StepNodeSchema,
  Schema.Struct({ kind: Schema.Literal("seq"), children: Schema.Array(Node) }),
  Schema.Struct({ kind: Schema.Literal("branch"), cond: ExprSchema, then: Node, else: exact(Node) }),
  Schema.Struct({
    kind: Schema.Literal("loop"),
    counter: PathString,
    cond: ExprSchema,
    body: Node,
    max: Schema.Number.pipe(Schema.int(), Schema.nonNegative())
  }),
  Schema.Struct({
    kind: Schema.Literal("fanout"),
    items: ExprSchema,
    bind: PathString,
    body: Node,
    join: FanoutJoinSchema,
    out: PathString
  }),
  Schema.Struct({ kind: Schema.Literal("try"), body: Node, catch: Node, err_at: exact(PathString) }),
  Schema.Struct({ kind: Schema.Literal("assign"), at: PathString, value: ExprSchema })
).annotations({ [AST.JSONIdentifierAnnotationId]: "FlowNode" })

// ---------------------------------------------------------------------------
// Agents and the document
// ---------------------------------------------------------------------------

const agentCommon = {
  name: Schema.String,
  /** Template: `{{ name }}` = that field of the step input, `{{ input }}` = the whole input. */
  system_prompt: exact(Schema.String),
  /** Allowed values of an `ok:true` result. */
  verdicts: exact(Schema.Array(Schema.String))
}

export const OperatorAgentSchema = Schema.Struct({
  ...agentCommon,
  kind: Schema.Literal("operator"),
  /** Seat name, declared in `operators`. */
  operator: Schema.String
})
export type OperatorAgent = typeof OperatorAgentSchema.Type

export const SubprocessAgentSchema = Schema.Struct({
  ...agentCommon,
  kind: Schema.Literal("subprocess"),
  /** argv; never run through a shell. */
  command: Schema.Array(Schema.String),
  cwd: exact(Schema.String),
  env: exact(Schema.Record({ key: Schema.String, value: Schema.String })),
  timeout_ms: exact(Schema.Number.pipe(Schema.int(), Schema.positive())),
  /** Absent means true: the step input is written to stdin. */
  stdin: exact(Schema.Boolean)
})
export type SubprocessAgent = typeof SubprocessAgentSchema.Type

export const BuiltinAgentSchema = Schema.Struct({
  ...agentCommon,
  kind: Schema.Literal("builtin"),
  fn: BuiltinFnSchema
})
export type BuiltinAgent = typeof BuiltinAgentSchema.Type

export const AgentDefSchema = Schema.Union(OperatorAgentSchema, SubprocessAgentSchema, BuiltinAgentSchema)
export type AgentDef = typeof AgentDefSchema.Type

export const OperatorSeatSchema = Schema.Struct({ name: Schema.String })
export type OperatorSeat = typeof OperatorSeatSchema.Type

export const MetadataSchema = Schema.Struct(
  { project_name_alias: exact(Schema.String) },
  Schema.Record({ key: Schema.String, value: JsonValue })
)
export type Metadata = typeof MetadataSchema.Type

export const BlueprintSchema = Schema.Struct({
  id: exact(Schema.String),
  description: exact(Schema.String),
  metadata: exact(MetadataSchema),
  /** Run input defaults; a task's input is merged over it (shallow, input wins). */
  default_input: exact(JsonValue),
  middleware: exact(Schema.Array(MiddlewareNameSchema)),
  operators: exact(Schema.Array(OperatorSeatSchema)),
  agents: Schema.Array(AgentDefSchema),
  flow: FlowNodeSchema
})
export type Blueprint = typeof BlueprintSchema.Type

/** Strict decoding: unknown fields refused, every problem collected, missing keys are missing. */
export const blueprintParseOptions = {
  errors: "all",
  onExcessProperty: "error",
  exact: true
} as const
