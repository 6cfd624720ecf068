import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import { cli } from "./Cli.js"
import { runMain } from "./main.js"

// errors are printed by the CLI (usage) or the command itself (one line); signals and exit code: main.ts
runMain(cli(process.argv).pipe(Effect.provide(NodeContext.layer)))
