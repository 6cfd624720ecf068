/** The `swarmgate` command line (docs/commands.md); each command in its own file. */
import { Command } from "@effect/cli"
import { version } from "../http/HealthHttp.js"
import { blueprint } from "./blueprint.js"
import { cancel } from "./cancel.js"
import { operator } from "./operator.js"
import { resume } from "./resume.js"
import { run } from "./run.js"
import { runs } from "./runs.js"
import { serve } from "./serve.js"
import { sessions } from "./sessions.js"
import { show } from "./show.js"
import { worker } from "./worker.js"

export const root = Command.make("swarmgate").pipe(
  Command.withDescription("drive multi-agent workflows and hand each agent step to an operator"),
  Command.withSubcommands([serve, run, operator, worker, runs, show, cancel, resume, blueprint, sessions])
)

export const cli = Command.run(root, { name: "swarmgate", version })
