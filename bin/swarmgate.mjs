#!/usr/bin/env node
// The `swarmgate` command. Runs the compiled JavaScript in dist/ (built by `npm run build`,
// which `npm install` runs as the `prepare` script). SWARMGATE_FROM_SOURCE=1 runs the
// TypeScript sources through tsx instead (a dev dependency): the test suite sets it, so
// tests never exercise a stale build.
import { existsSync, readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = new URL("../", import.meta.url)

/** Newest modification time under a directory (a checkout's src/; absent in the package). */
const newest = (dir) => {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

if (process.env.SWARMGATE_FROM_SOURCE === "1") {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/cli/bin.ts")
} else {
  const entry = new URL("dist/cli/bin.js", root)
  if (!existsSync(entry)) {
    console.error(
      "swarmgate: the compiled program is missing (dist/cli/bin.js). In a checkout, run `npm run build` " +
        "(`npm install` runs it too) and try again; an installed package always contains it, so reinstall it."
    )
    process.exit(1)
  }
  const src = fileURLToPath(new URL("src", root))
  if (existsSync(src) && newest(src) > statSync(entry).mtimeMs) {
    console.error("swarmgate: note: src/ changed after the last build; run `npm run build` to run the new code")
  }
  await import(entry.href)
}
