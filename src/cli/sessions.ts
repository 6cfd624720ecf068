/**
 * `swarmgate sessions`: the live operator sessions. The list route needs a live session's
 * token: env SWARMGATE_OPERATOR_TOKEN when set, else a short-lived session of its own,
 * left out of the list and deleted again.
 */
import { Command as Cli } from "@effect/cli"
import { Config, Effect, Option } from "effect"
import { makeApiClient } from "../client/api.js"
import { command, jsonOption, printJson, serverOption, stdout, table, when } from "./common.js"

const operatorToken = Config.string("SWARMGATE_OPERATOR_TOKEN").pipe(Config.option)

export const sessions = Cli.make("sessions", { json: jsonOption, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const api = yield* makeApiClient(options.server)
    const given = yield* operatorToken
    const own = Option.isSome(given)
      ? undefined
      : yield* Effect.acquireRelease(
        api.operators.login({ payload: { desc: "swarmgate sessions (listing)" } }),
        (s) => api.operators.logout({ path: { sid: s.sid }, headers: { authorization: `Bearer ${s.token}` } }).pipe(Effect.ignore)
      )
    const token = Option.isSome(given) ? given.value : own!.token
    const listed = yield* api.operators.list({ headers: { authorization: `Bearer ${token}` } })
    const operators = listed.operators.filter((o) => o.sid !== own?.sid)
    if (options.json) return yield* printJson({ operators, total: operators.length })
    yield* stdout(table(
      ["SID", "CONNECTED", "PENDING", "JOINED", "LAST ACCESS", "DESC"],
      operators.map((o) => [o.sid, o.connected ? "yes" : "no", String(o.pending), when(o.joined_at), when(o.last_access), o.desc ?? ""])
    ))
  }).pipe(Effect.scoped, (body) =>
    command(options.server, body, { bad_credential: "SWARMGATE_OPERATOR_TOKEN must be the token of a live session" }))
).pipe(Cli.withDescription("list operator sessions"))
