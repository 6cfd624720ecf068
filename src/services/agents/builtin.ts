/** In-process agents for tests and glue (docs/blueprints.md, agents: builtin). */
import { Duration, Effect } from "effect"
import type { BuiltinAgent } from "../../protocol/blueprint.js"
import { blocked, failed, type Outcome, passed } from "./outcome.js"

const msOf = (input: unknown): number | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const ms = (input as Record<string, unknown>).ms
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

/** The outcome of a builtin that takes no time (all but `sleep`), else undefined. */
export const instantBuiltin = (agent: BuiltinAgent, input: unknown): Outcome | undefined => {
  switch (agent.fn) {
    case "identity":
      return passed(input)
    case "fail":
      return blocked(input, `builtin fail: agent ${agent.name} blocks by design`)
    case "echo":
      return passed({ agent: agent.name, input })
    case "sleep":
      return undefined
  }
}

export const runBuiltin = (agent: BuiltinAgent, input: unknown): Effect.Effect<Outcome> => {
  switch (agent.fn) {
    case "identity":
    case "fail":
    case "echo":
      return Effect.succeed(instantBuiltin(agent, input)!)
    case "sleep": {
      const ms = msOf(input)
      // Effect.sleep goes through the Clock, so TestClock drives it in tests
      return ms === undefined
        ? Effect.succeed(failed(`builtin sleep needs an object input with a non-negative number "ms"`))
        : Effect.as(Effect.sleep(Duration.millis(ms)), passed(input))
    }
  }
}
