/** `swarmgate mcp`: the MCP adapter on stdio; the code is in src/mcp. */
import { Command as Cli, Options } from "@effect/cli"
import { Duration, Effect, Logger } from "effect"
import { HttpLive } from "../client/api.js"
import { fail, serverOption } from "./common.js"

const joinTimeout = Options.text("join-timeout").pipe(
  Options.withDescription("how long operator_join waits for the operator socket before it deletes the new session again"),
  Options.withDefault("10 seconds")
)

export const mcp = Cli.make("mcp", { server: serverOption, joinTimeout }, (options) =>
  Effect.gen(function*() {
    const timeout = Duration.decodeUnknown(options.joinTimeout.trim())
    if (timeout._tag === "None" || !Duration.greaterThan(timeout.value, Duration.zero)) {
      return yield* fail(`--join-timeout must be a positive duration such as "10 seconds", got ${JSON.stringify(options.joinTimeout)}`)
    }
    // stdout carries the MCP messages: anything else printed goes to stderr
    console.log = console.error
    console.info = console.error
    // loaded on use: the MCP SDK is large, and every other command would pay for it at startup
    const { runAdapter } = yield* Effect.promise(() => import("../mcp/server.js"))
    yield* runAdapter({ server: options.server, joinTimeout: timeout.value }).pipe(
      Effect.scoped,
      Effect.provide(HttpLive),
      Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
    )
  })).pipe(Cli.withDescription("the MCP adapter on stdio: an AI coding agent becomes the operator (see docs/mcp.md)"))
