/** The files that register the adapter and define the sub-agent agree with the code. */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { inputs } from "../../src/mcp/inputs.js"
import { SUBAGENT_TYPE } from "../../src/protocol/directive.js"

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), "utf8")

/** The YAML front matter of a sub-agent file: `key: value` lines between the two `---`. */
const frontMatter = (text: string): Record<string, string> => {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(text)
  expect(match, "front matter").not.toBeNull()
  return Object.fromEntries(match![1]!.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]))
}

describe("shipped MCP registration and sub-agent", () => {
  const mcpJson = JSON.parse(read(".mcp.json")) as { mcpServers: Record<string, { command: string; args: Array<string> }> }
  const serverNames = Object.keys(mcpJson.mcpServers)

  it(".mcp.json registers one server named swarmgate that runs `swarmgate mcp`", () => {
    expect(serverNames).toEqual(["swarmgate"])
    const entry = mcpJson.mcpServers.swarmgate!
    expect(entry.command).toBe("node")
    expect(entry.args.at(-1)).toBe("mcp")
    expect(entry.args[0]).toMatch(/bin\/swarmgate\.mjs$/)
  })

  it("agents/swarmgate-worker.md is the sub-agent the directive names, with the adapter's worker tools", () => {
    const text = read("agents/swarmgate-worker.md")
    const meta = frontMatter(text)
    expect(meta.name).toBe(SUBAGENT_TYPE)
    expect(meta.description!.length).toBeGreaterThan(40)
    const tools = meta.tools!.split(",").map((t) => t.trim())
    expect(tools).toEqual([`mcp__${serverNames[0]}__worker_fetch`, `mcp__${serverNames[0]}__worker_submit`])
    for (const tool of tools) expect(Object.keys(inputs)).toContain(tool.split("__")[2])
    // the contract: fetch, work, submit, reply OUTPUT
    expect(text).toMatch(/worker_fetch[\s\S]*worker_submit[\s\S]*`OUTPUT`/)
  })

  it("the plugin manifest names the plugin", () => {
    const manifest = JSON.parse(read(".claude-plugin/plugin.json")) as { name: string; description: string }
    expect(manifest.name).toBe("swarmgate")
    expect(manifest.description).toMatch(/swarmgate-worker/)
  })
})
