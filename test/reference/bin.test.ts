/**
 * `bin/swarmgate.mjs` as a package runs it: the compiled dist/, clear guidance when dist/ is
 * missing, a note when src/ changed after the build. Run from a copy in a temp directory
 * with a stand-in dist/, so the checkout's own build is never touched.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../bin/swarmgate.mjs", import.meta.url))

const layout = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), "swarmgate-bin-"))
  mkdirSync(join(dir, "bin"))
  copyFileSync(bin, join(dir, "bin", "swarmgate.mjs"))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

const run = (dir: string) => {
  const env = { ...process.env }
  delete env.SWARMGATE_FROM_SOURCE // as a user runs it
  const result = spawnSync(process.execPath, [join(dir, "bin", "swarmgate.mjs"), "--version"], { env, encoding: "utf8" })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const entry = "console.log('compiled entry ran with ' + process.argv.slice(2).join(' '))"

describe("bin/swarmgate.mjs", () => {
  it("runs the compiled program in dist/ with the arguments", () => {
    const dir = layout({ "dist/cli/bin.js": entry })
    try {
      const result = run(dir)
      expect(result).toMatchObject({ status: 0, stdout: "compiled entry ran with --version\n", stderr: "" })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("without dist/ says how to build it and exits 1", () => {
    const dir = layout({ "src/cli/bin.ts": "" })
    try {
      const result = run(dir)
      expect(result.status).toBe(1)
      expect(result.stdout).toBe("")
      expect(result.stderr).toContain("npm run build")
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("notes when src/ is newer than the build, and still runs it", () => {
    const dir = layout({ "dist/cli/bin.js": entry, "src/cli/Cli.ts": "" })
    try {
      const old = new Date(Date.now() - 60_000)
      utimesSync(join(dir, "dist/cli/bin.js"), old, old)
      const result = run(dir)
      expect(result.status).toBe(0)
      expect(result.stdout).toContain("compiled entry ran")
      expect(result.stderr).toContain("src/ changed after the last build")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
