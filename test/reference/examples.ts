/**
 * Every blueprint the repository shows a user: `examples/*.json`, the test fixture, and
 * each JSON block of the README and docs/ that is a whole blueprint (has `agents` and
 * `flow`), so the documentation cannot drift from what the server accepts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))

export interface Example {
  readonly where: string
  readonly blueprint: unknown
}

const isBlueprint = (u: unknown): boolean =>
  typeof u === "object" && u !== null && !Array.isArray(u) && "agents" in u && "flow" in u

/** JSON blocks of a markdown file; curl examples carry the body after `-d '`. */
const jsonBlocks = (file: string): Array<Example> => {
  const text = readFileSync(root + file, "utf8")
  const found: Array<Example> = []
  for (const [i, block] of [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].entries()) {
    const body = block[1] === "json" ? block[2]! : /-d '(\{[\s\S]*?\})'/.exec(block[2]!)?.[1]
    if (body === undefined) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      if (block[1] === "json") throw new Error(`${file}: JSON block ${i + 1} does not parse`)
      continue
    }
    if (isBlueprint(parsed)) found.push({ where: `${file} block ${i + 1}`, blueprint: parsed })
  }
  return found
}

export const blueprintExamples = (): Array<Example> => {
  const files = ["test/flow/example-blueprint.json"]
  if (existsSync(root + "examples")) {
    files.push(...readdirSync(root + "examples").filter((f) => f.endsWith(".json")).map((f) => `examples/${f}`))
  }
  const markdown = ["README.md", ...readdirSync(root + "docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]
  return [
    ...files.map((file) => ({ where: file, blueprint: JSON.parse(readFileSync(root + file, "utf8")) as unknown })),
    ...markdown.flatMap(jsonBlocks)
  ]
}
