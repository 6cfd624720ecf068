import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // child processes of `bin/swarmgate.mjs` run the TypeScript sources, never a stale dist/
    env: { SWARMGATE_FROM_SOURCE: "1" }
  }
})
