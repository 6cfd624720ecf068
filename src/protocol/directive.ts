/**
 * The spawn directive (docs/operators.md, The spawn directive): plain text telling the operator how to hand a
 * step to a sub-agent. Pure, so every alias × data-path combination is unit-tested.
 * It names URLs only, never a path on the operator's machine.
 */

export interface DirectiveInput {
  readonly agent: string
  readonly taskId: string
  readonly baseUrl: string
  readonly workerHandle: string
  /** The blueprint's `project_name_alias`, when set. */
  readonly alias?: string
  /** Whether this run has a data path for large outputs. */
  readonly dataEndpoint?: boolean
}

/** The sub-agent type the directive asks for; `agents/swarmgate-worker.md` defines it for Claude Code. */
export const SUBAGENT_TYPE = "swarmgate-worker"

/** The lines of the sub-agent's prompt: four, plus `Session alias:` when the blueprint sets an alias. */
export const subagentPromptLines = (
  input: Pick<DirectiveInput, "agent" | "taskId" | "baseUrl" | "workerHandle" | "alias">
): ReadonlyArray<string> => {
  const alias = input.alias === "" ? undefined : input.alias
  return [
    `agent_id: ${input.agent}`,
    `worker_handle: ${input.workerHandle}`,
    `base_url: ${input.baseUrl.replace(/\/+$/, "")}`,
    `task_id: ${input.taskId}`,
    ...(alias === undefined ? [] : [`Session alias: ${alias}`])
  ]
}

const ALIAS_LINE = /^Add this literal line to the sub-agent's prompt: (Session alias: .+)$/m

/**
 * The sub-agent prompt read back out of a directive (what an operator program hands its
 * sub-agent), or undefined when the text is not a directive of this shape.
 */
export const subagentPromptOf = (directive: string): string | undefined => {
  const lines = directive.split("\n")
  const start = lines.findIndex((l) => /exactly these four lines/.test(l)) + 1
  const four = lines.slice(start, start + 4)
  const prefixes = ["agent_id: ", "worker_handle: ", "base_url: ", "task_id: "]
  if (start === 0 || four.length !== 4 || !four.every((l, i) => l.startsWith(prefixes[i]!))) return undefined
  const alias = ALIAS_LINE.exec(directive)?.[1]
  return [...four, ...(alias === undefined ? [] : [alias])].join("\n")
}

export const renderDirective = (input: DirectiveInput): string => {
  const { agent, taskId, workerHandle: handle } = input
  const base = input.baseUrl.replace(/\/+$/, "")
  const alias = input.alias === "" ? undefined : input.alias
  const promptUrl = `${base}/v1/worker/prompt?task_id=${encodeURIComponent(taskId)}`
  const submitUrl = `${base}/v1/worker/submit`

  const head = [
    `[agent_primitive dispatch=@${agent}]`,
    `Worker endpoints (auth: Bearer ${handle}):`,
    `  GET ${promptUrl}`,
    `  POST ${submitUrl}`,
    `task_id: ${taskId}`,
    `agent_id: ${agent}`,
    ...(alias === undefined ? [] : [`project_name_alias: ${alias}`])
  ]

  const aliasBlock = alias === undefined ? [] : [
    "",
    "[Session alias reminder]",
    `Before starting the sub-agent, open one working session under the alias "${alias}", or reuse it if it is already open.`,
    `Add this literal line to the sub-agent's prompt: Session alias: ${alias}`
  ]

  const dataBlock = input.dataEndpoint === true ?
    [
      "",
      "[Data path]",
      `DATA_EMIT: ${base}/v1/data/emit (POST; auth: Bearer ${handle} or ?token=${handle})`,
      `DATA_GET: ${base}/v1/data/<out_id|name>`,
      "Large outputs go to DATA_EMIT, not into the result; only the returned out_id travels on to later steps."
    ] :
    []

  // without the alias: the alias line is asked for above, as a fifth line
  const promptLines = subagentPromptLines({ agent, taskId, baseUrl: base, workerHandle: handle })

  const instruction = [
    "",
    "[Instruction]",
    `Sub-agent type: ${SUBAGENT_TYPE} where your client has it; any sub-agent that can call the two worker endpoints will do.`,
    alias === undefined ?
      "Start one sub-agent whose prompt is exactly these four lines:" :
      "Start one sub-agent whose prompt is exactly these four lines, plus the Session alias line above as a fifth line:",
    ...promptLines,
    // a blank line ends the prompt so the operator does not copy the next sentence into it
    "",
    `The sub-agent fetches its prompt itself (GET ${promptUrl}), does the work, posts the raw result to POST ${submitUrl}, and replies OUTPUT.`,
    "Then reply to this spawn with spawn_ack, ok: true and an empty value (value null or omitted).",
    "Do not fetch the prompt yourself, and do not rewrite or summarise the sub-agent's reply.",
    "If you cannot start the sub-agent, reply with spawn_ack, ok: false and an error saying why."
  ]

  return [...head, ...aliasBlock, ...dataBlock, ...instruction].join("\n")
}
