/** The options `operator` and `run --operator auto` share: how requests are answered. */
import { Options } from "@effect/cli"

export const execOption = Options.text("exec").pipe(
  Options.withPseudoName("CMD"),
  Options.withDescription(
    "shell command started as the sub-agent of each spawn, with env SWARMGATE_URL, SWARMGATE_WORKER_HANDLE, " +
      "SWARMGATE_TASK_ID and SWARMGATE_AGENT; typically \"swarmgate worker --cmd '...'\" " +
      "(default: show the prompt at the terminal and take the typed result)"
  ),
  Options.optional
)

export const approveOption = Options.choice("approve", ["ask", "all"]).pipe(
  Options.withDescription(
    "ask: the person at the terminal answers each ask and hook_before; all: approve every hook_before and " +
      "answer every ask with true (default: ask)"
  ),
  Options.withDefault("ask" as const)
)
