/**
 * A clone is all a user has: README, docs/ and the sources (whose comments, help texts and
 * error messages users read) point only at files inside the repository.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]
  )

const markdown = [join(root, "README.md"), ...walk(join(root, "docs")).filter((f) => f.endsWith(".md"))]
const sources = walk(join(root, "src")).filter((f) => f.endsWith(".ts"))

/** Things that exist only outside a clone: the old shared folder and the names of its files. */
const outside = [
  /\.\.\/shared/,
  /shared\/(spec|guides|design)/,
  /\/work\//,
  /(?<![\w-])(http-api|protocol|cli|quality|architecture|effect3|multi-node)\.md/,
  /(?<![\w-])blueprint\.md/,
  /§\s?\d/
]

describe("the repository stands on its own", () => {
  it("no document, source comment, help text or message points outside the repository", () => {
    const hits = [...markdown, ...sources].flatMap((file) =>
      readFileSync(file, "utf8").split("\n").flatMap((line, i) =>
        outside.some((pattern) => pattern.test(line)) ? [`${relative(root, file)}:${i + 1}: ${line.trim()}`] : []
      )
    )
    expect(hits).toEqual([])
  })

  it("every relative link of README and docs/ leads to a file of the repository", () => {
    const broken = markdown.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1]!.split("#")[0]!)
        .filter((target) => target !== "" && !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(join(dirname(file), target)))
        .map((target) => `${relative(root, file)} → ${target}`)
    )
    expect(broken).toEqual([])
  })

  it("the README links every user document in docs/", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    for (const doc of ["commands.md", "http.md", "blueprints.md", "operators.md", "security.md"]) {
      expect(readme).toContain(`(docs/${doc})`)
    }
  })
})
