/** The `swarmgate` command line (docs/commands.md); each command in its own file. */
import { Command } from "@effect/cli"
import { version } from "../http/HealthHttp.js"
import { serve } from "./serve.js"

export const root = Command.make("swarmgate").pipe(
  Command.withDescription("drive multi-agent workflows and hand each agent step to an operator"),
  Command.withSubcommands([serve])
)

export const cli = Command.run(root, { name: "swarmgate", version })
