// The vitest config of mutation runs: every test, or only the globs in MUTATE_TESTS
// (comma-separated), to make a run of a file that everything imports affordable.
import { defineConfig } from "vitest/config"

const only = process.env.MUTATE_TESTS?.split(",").filter((g) => g !== "")

export default defineConfig({
  test: {
    include: only !== undefined && only.length > 0 ? only : ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
