// Mutation testing (`npm run mutate`): not part of .ci/run, it takes far too long there.
// Run it one file at a time on a shared machine: `npm run mutate -- --mutate src/...`.
// Scores and the surviving mutants we accept are in docs/testing.md.
// MUTATE_TAG names a run's reports and sandbox, so that two runs can go at once
const tag = process.env.MUTATE_TAG ? `-${process.env.MUTATE_TAG}` : ""

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "stryker.vitest.config.ts", related: true },
  // the first run measures which test reaches which mutant; on a busy machine that takes a while
  dryRunTimeoutMinutes: 30,
  checkers: ["typescript"],
  // the sources only: with the tests and benchmarks in, each check recompiled ~590 files
  tsconfigFile: "tsconfig.stryker.json",
  // each mutant runs only the tests that reached it in the dry run
  coverageAnalysis: "perTest",
  // module-level code would need the whole suite per mutant; it is declarations here
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 10_000,
  // the files that carry the promises (docs/testing.md says which)
  mutate: [
    "src/services/OperatorSession.ts",
    "src/services/session/Session.ts",
    "src/services/session/pending.ts",
    "src/protocol/decode.ts",
    "src/protocol/directive.ts",
    "src/services/flow/evaluate.ts",
    "src/services/Worker.ts",
    "src/services/Steps.ts",
    "src/services/RunLifecycle.ts",
    "src/services/RunEnding.ts",
    "src/services/RunSeating.ts",
    "src/services/agents/operator.ts",
    "src/services/Dispatcher.ts",
    "src/services/Capabilities.ts"
  ],
  reporters: ["clear-text", "progress-append-only", "json", "html"],
  jsonReporter: { fileName: `reports/mutation/mutation${tag}.json` },
  htmlReporter: { fileName: `reports/mutation/mutation${tag}.html` },
  tempDirName: `.stryker-tmp${tag}`,
  // another run's sandbox is not part of the project
  ignorePatterns: [".stryker-tmp*", "reports"],
  cleanTempDir: "always"
}
