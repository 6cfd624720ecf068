import { describe, expect, it } from "@effect/vitest"
import { renderDirective, SUBAGENT_TYPE, subagentPromptLines, subagentPromptOf } from "../../src/protocol/directive.js"

const agent = "coder"
const taskId = "ST-0123456789abcdef"
const base = "http://127.0.0.1:7420"
const handle = "wh-abc123def456"
const alias = "proj-x"

const render = (opts: { alias?: string; dataEndpoint?: boolean }, baseUrl = `${base}/`) =>
  renderDirective({ agent, taskId, baseUrl, workerHandle: handle, ...opts })

const lines = (text: string) => text.split("\n")

const fourLinePrompt = [
  `agent_id: ${agent}`,
  `worker_handle: ${handle}`,
  `base_url: ${base}`,
  `task_id: ${taskId}`
]

/** Index of the first line equal to `line`, failing the test when there is none. */
const at = (text: string, line: string): number => {
  const i = lines(text).indexOf(line)
  expect(i, `line ${JSON.stringify(line)} missing`).toBeGreaterThanOrEqual(0)
  return i
}

const atMatch = (text: string, re: RegExp): number => {
  const i = lines(text).findIndex((l) => re.test(l))
  expect(i, `no line matches ${re}`).toBeGreaterThanOrEqual(0)
  return i
}

// Paths on a machine: absolute unix paths, home-relative, Windows drives, file names
// with doc/code extensions. URLs are removed first so their paths do not count.
const assertNoFilePath = (text: string) => {
  const withoutUrls = text.replace(/https?:\/\/\S+/g, "<url>")
  expect(withoutUrls).not.toMatch(/(^|[\s"'(`=])\/[A-Za-z0-9._-]+/m)
  expect(withoutUrls).not.toMatch(/~[\\/]/)
  expect(withoutUrls).not.toMatch(/\b[A-Za-z]:\\/)
  expect(withoutUrls).not.toMatch(/\.(md|txt|json|ya?ml|ts|js|sh)\b/i)
  expect(withoutUrls).not.toMatch(/\/home\/|\/Users\/|\/tmp\//)
}

/** Checks shared by all four combinations. */
const assertCommon = (text: string) => {
  const ls = lines(text)
  expect(ls[0]).toBe(`[agent_primitive dispatch=@${agent}]`)

  const get = atMatch(text, /GET /)
  const post = atMatch(text, /POST .*\/v1\/worker\/submit/)
  expect(ls[get]).toContain(`GET ${base}/v1/worker/prompt?task_id=${taskId}`)
  expect(ls[post]).toContain(`POST ${base}/v1/worker/submit`)
  expect(text).toContain(`Bearer ${handle}`)
  expect(text).not.toContain("<worker_handle>")
  // the trailing slash of the base URL was stripped
  expect(text).not.toContain(`${base}//`)

  const taskLine = at(text, `task_id: ${taskId}`)
  const agentLine = at(text, `agent_id: ${agent}`)
  expect(get).toBeGreaterThan(0)
  expect(post).toBeGreaterThan(0)
  expect(taskLine).toBeGreaterThan(Math.max(get, post))
  expect(agentLine).toBeGreaterThan(Math.max(get, post))

  // the sub-agent prompt: exactly the four lines, contiguous, framed by non-prompt lines
  const start = ls.findIndex((l, i) => l === fourLinePrompt[0] && ls[i + 1] === fourLinePrompt[1])
  expect(start).toBeGreaterThan(agentLine)
  expect(ls.slice(start, start + 4)).toEqual(fourLinePrompt)
  expect(ls[start + 4]).toBe("")
  expect(ls[start - 1]).toMatch(/exactly these four lines/)
  expect(ls[start - 1]).toMatch(/sub-agent/)

  const tail = ls.slice(start + 4).join("\n")
  expect(tail).toMatch(/fetches its prompt itself/)
  expect(tail).toMatch(/posts the raw result/)
  expect(tail).toContain(`${base}/v1/worker/submit`)
  expect(tail).toMatch(/replies OUTPUT/)
  expect(tail).toMatch(/spawn_ack, ok: true and an empty value/)
  expect(tail).toMatch(/Do not fetch the prompt yourself/)
  expect(tail).toMatch(/do not rewrite .*the sub-agent's reply/)
  expect(tail).toMatch(/cannot start the sub-agent.*spawn_ack, ok: false and an error/)

  assertNoFilePath(text)
  return { start, agentLine, taskLine }
}

const assertNoAlias = (text: string) => {
  expect(text).not.toContain("project_name_alias")
  expect(text).not.toContain("[Session alias reminder]")
  expect(text).not.toContain("Session alias:")
  expect(text).not.toContain("fifth line")
}

const assertAlias = (text: string) => {
  const aliasLine = at(text, `project_name_alias: ${alias}`)
  const block = at(text, "[Session alias reminder]")
  expect(block).toBeGreaterThan(aliasLine)
  const body = lines(text).slice(block).join("\n")
  expect(body).toMatch(/open one working session under the alias "proj-x", or reuse it/)
  expect(body).toMatch(/Before starting the sub-agent/)
  expect(text).toContain(`Add this literal line to the sub-agent's prompt: Session alias: ${alias}`)
  expect(text.split("[Session alias reminder]").length).toBe(2)
  return { aliasLine, block }
}

const assertNoData = (text: string) => {
  expect(text).not.toContain("[Data path]")
  expect(text).not.toContain("DATA_EMIT")
  expect(text).not.toContain("DATA_GET")
  expect(text).not.toContain("/v1/data/")
  expect(text).not.toContain("out_id")
}

const assertData = (text: string) => {
  const block = at(text, "[Data path]")
  const emit = atMatch(text, /^DATA_EMIT: /)
  const get = atMatch(text, /^DATA_GET: /)
  const ls = lines(text)
  expect(ls[emit]).toBe(`DATA_EMIT: ${base}/v1/data/emit (POST; auth: Bearer ${handle} or ?token=${handle})`)
  expect(ls[get]).toBe(`DATA_GET: ${base}/v1/data/<out_id|name>`)
  expect(emit).toBeGreaterThan(block)
  expect(get).toBeGreaterThan(block)
  expect(lines(text).slice(block).join("\n")).toMatch(/Large outputs go to DATA_EMIT.*only the returned out_id travels on/)
  return { block }
}

describe("renderDirective", () => {
  it("without alias, without data path", () => {
    const text = render({})
    assertCommon(text)
    assertNoAlias(text)
    assertNoData(text)
    expect(text).toMatch(/exactly these four lines:\n/)
  })

  it("with alias, without data path", () => {
    const text = render({ alias })
    const { start, taskLine, agentLine } = assertCommon(text)
    const { aliasLine, block } = assertAlias(text)
    assertNoData(text)
    expect(aliasLine).toBeGreaterThan(Math.max(taskLine, agentLine))
    expect(start).toBeGreaterThan(block)
    // the alias line is requested as an addition to the four prompt lines
    expect(lines(text)[start - 1]).toMatch(/plus the Session alias line/)
  })

  it("without alias, with data path", () => {
    const text = render({ dataEndpoint: true })
    const { start, taskLine, agentLine } = assertCommon(text)
    assertNoAlias(text)
    const { block } = assertData(text)
    expect(block).toBeGreaterThan(Math.max(taskLine, agentLine))
    expect(start).toBeGreaterThan(block)
  })

  it("with alias, with data path", () => {
    const text = render({ alias, dataEndpoint: true })
    const { start, taskLine, agentLine } = assertCommon(text)
    const { aliasLine, block: aliasBlock } = assertAlias(text)
    const { block: dataBlock } = assertData(text)
    expect(aliasLine).toBeGreaterThan(Math.max(taskLine, agentLine))
    expect(dataBlock).toBeGreaterThan(aliasBlock)
    expect(start).toBeGreaterThan(dataBlock)
  })

  it("dataEndpoint false and an empty alias count as absent", () => {
    const text = render({ alias: "", dataEndpoint: false })
    assertCommon(text)
    assertNoAlias(text)
    assertNoData(text)
    expect(text).toBe(render({}))
  })

  it("uses the base URL as given when it has no trailing slash", () => {
    expect(render({ dataEndpoint: true }, base)).toBe(render({ dataEndpoint: true }, `${base}/`))
    const other = renderDirective({ agent, taskId, baseUrl: "https://gate.example.com/sg", workerHandle: handle })
    expect(other).toContain(`GET https://gate.example.com/sg/v1/worker/prompt?task_id=${taskId}`)
    expect(other).toContain("POST https://gate.example.com/sg/v1/worker/submit")
    expect(other).toContain("base_url: https://gate.example.com/sg\n")
  })

  it("the file-path check catches paths", () => {
    // guards the guard: the regexes must be able to fail
    for (const bad of ["see /home/u/notes", "read ~/x", "C:\\work\\a", "open AGENTS.md", "in /etc/passwd"]) {
      expect(() => assertNoFilePath(bad)).toThrow()
    }
    expect(() => assertNoFilePath("GET http://h:1/v1/worker/prompt?task_id=x")).not.toThrow()
  })

  it("names the sub-agent type in the instruction block, before the prompt lines", () => {
    for (const opts of [{}, { alias }, { dataEndpoint: true }, { alias, dataEndpoint: true }]) {
      const text = render(opts)
      const typeLine = atMatch(text, /^Sub-agent type: /)
      expect(lines(text)[typeLine]).toContain(SUBAGENT_TYPE)
      expect(typeLine).toBeGreaterThan(at(text, "[Instruction]"))
      expect(typeLine).toBeLessThan(lines(text).lastIndexOf(fourLinePrompt[0]!))
      expect(SUBAGENT_TYPE).toBe("swarmgate-worker")
    }
  })
})

describe("subagentPromptOf", () => {
  it("reads back exactly the four prompt lines, or five with the Session alias line", () => {
    for (const dataEndpoint of [false, true]) {
      expect(subagentPromptOf(render({ dataEndpoint }))).toBe(fourLinePrompt.join("\n"))
      expect(subagentPromptOf(render({ alias, dataEndpoint }))).toBe([...fourLinePrompt, `Session alias: ${alias}`].join("\n"))
    }
  })

  it("agrees with subagentPromptLines for every combination", () => {
    for (const opts of [{}, { alias }, { dataEndpoint: true }, { alias, dataEndpoint: true }, { alias: "" }]) {
      const input = { agent, taskId, baseUrl: `${base}/`, workerHandle: handle, ...opts }
      expect(subagentPromptOf(renderDirective(input))).toBe(subagentPromptLines(input).join("\n"))
    }
  })

  it("is undefined for text that is not a directive, or whose prompt lines are broken", () => {
    expect(subagentPromptOf("")).toBeUndefined()
    expect(subagentPromptOf("hello\nworld")).toBeUndefined()
    const broken = render({}).replace(`worker_handle: ${handle}`, "handle: x")
    expect(subagentPromptOf(broken)).toBeUndefined()
  })
})

describe("the exact text", () => {
  const instruction = (fourLines: string) => [
    "",
    "[Instruction]",
    "Sub-agent type: swarmgate-worker where your client has it; any sub-agent that can call the two worker endpoints will do.",
    fourLines,
    ...fourLinePrompt,
    "",
    `The sub-agent fetches its prompt itself (GET ${base}/v1/worker/prompt?task_id=${taskId}), does the work, posts the raw result to POST ${base}/v1/worker/submit, and replies OUTPUT.`,
    "Then reply to this spawn with spawn_ack, ok: true and an empty value (value null or omitted).",
    "Do not fetch the prompt yourself, and do not rewrite or summarise the sub-agent's reply.",
    "If you cannot start the sub-agent, reply with spawn_ack, ok: false and an error saying why."
  ]
  const head = [
    `[agent_primitive dispatch=@${agent}]`,
    `Worker endpoints (auth: Bearer ${handle}):`,
    `  GET ${base}/v1/worker/prompt?task_id=${taskId}`,
    `  POST ${base}/v1/worker/submit`,
    `task_id: ${taskId}`,
    `agent_id: ${agent}`
  ]

  it("without alias or data path, from a base URL with several trailing slashes", () => {
    expect(render({}, `${base}///`)).toBe(
      [...head, ...instruction("Start one sub-agent whose prompt is exactly these four lines:")].join("\n")
    )
  })

  it("with alias and data path", () => {
    expect(render({ alias, dataEndpoint: true }, `${base}//`)).toBe([
      ...head,
      `project_name_alias: ${alias}`,
      "",
      "[Session alias reminder]",
      `Before starting the sub-agent, open one working session under the alias "${alias}", or reuse it if it is already open.`,
      `Add this literal line to the sub-agent's prompt: Session alias: ${alias}`,
      "",
      "[Data path]",
      `DATA_EMIT: ${base}/v1/data/emit (POST; auth: Bearer ${handle} or ?token=${handle})`,
      `DATA_GET: ${base}/v1/data/<out_id|name>`,
      "Large outputs go to DATA_EMIT, not into the result; only the returned out_id travels on to later steps.",
      ...instruction(
        "Start one sub-agent whose prompt is exactly these four lines, plus the Session alias line above as a fifth line:"
      )
    ].join("\n"))
  })

  it("the sub-agent prompt lines: four without an alias, five with one; trailing slashes stripped", () => {
    const input = { agent, taskId, baseUrl: `${base}//`, workerHandle: handle }
    expect(subagentPromptLines(input)).toEqual(fourLinePrompt)
    expect(subagentPromptLines({ ...input, alias: "" })).toEqual(fourLinePrompt)
    expect(subagentPromptLines({ ...input, alias })).toEqual([...fourLinePrompt, `Session alias: ${alias}`])
  })
})

describe("subagentPromptOf refuses", () => {
  const good = render({})

  it("a prompt with any one of its four labels changed", () => {
    for (const label of ["agent_id: ", "worker_handle: ", "base_url: ", "task_id: "]) {
      const line = fourLinePrompt.find((l) => l.startsWith(label))!
      // the prompt's copy of the line (agent_id and task_id are in the head too)
      const i = good.lastIndexOf(`\n${line}\n`)
      const broken = `${good.slice(0, i)}\n${line.replace(label, "x: ")}${good.slice(i + line.length + 1)}`
      expect(broken.length).toBe(good.length - label.length + 3)
      expect(subagentPromptOf(broken), label).toBeUndefined()
    }
  })

  it("the four lines without the line that announces them", () => {
    expect(subagentPromptOf(fourLinePrompt.join("\n"))).toBeUndefined()
    expect(subagentPromptOf([...fourLinePrompt, "", "more"].join("\n"))).toBeUndefined()
  })

  it("fewer than four lines after that line", () => {
    const announce = "Start one sub-agent whose prompt is exactly these four lines:"
    expect(subagentPromptOf([announce, ...fourLinePrompt.slice(0, 3)].join("\n"))).toBeUndefined()
    expect(subagentPromptOf([announce, ...fourLinePrompt].join("\n"))).toBe(fourLinePrompt.join("\n"))
  })
})
