/**
 * What the engine needs from the session registry, and nothing more: whether a sid is live,
 * the role Context of a sid (to provide to a step), and withdrawal of its pending requests.
 * An adapter so the engine does not depend on the registry's full surface, and tests can
 * serve sessions from a plain map.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { Withdrawal, WithdrawalReason } from "../protocol/withdrawal.js"
import type { OperatorSessionShape } from "./OperatorSession.js"
import type { Roles } from "./roles/index.js"
import { Sessions } from "./Sessions.js"

export type { Roles } from "./roles/index.js"

export interface SessionDirectoryShape {
  readonly exists: (sid: string) => Effect.Effect<boolean>
  readonly roles: (sid: string) => Effect.Effect<Option.Option<Context.Context<Roles>>>
  /** Withdraw the pending requests `target` names from that session (0 when the sid is unknown). */
  readonly withdraw: (sid: string, target: Withdrawal, reason: WithdrawalReason) => Effect.Effect<number>
  /** Run `f` when a session is torn down, before its pending requests fail (the engine vacates its seats). */
  readonly onTeardown: (f: (sid: string) => Effect.Effect<void>) => Effect.Effect<void>
}

export interface DirectoryEntry {
  readonly session: OperatorSessionShape
  readonly roles: Context.Context<Roles>
}

export class SessionDirectory extends Context.Tag("swarmgate/SessionDirectory")<SessionDirectory, SessionDirectoryShape>() {
  /** A directory over a lookup function (tests, or any registry). */
  static readonly fromLookup = (
    lookup: (sid: string) => Effect.Effect<Option.Option<DirectoryEntry>>,
    onTeardown: SessionDirectoryShape["onTeardown"] = () => Effect.void
  ): Layer.Layer<SessionDirectory> =>
    Layer.succeed(SessionDirectory, {
      exists: (sid) => Effect.map(lookup(sid), Option.isSome),
      roles: (sid) => Effect.map(lookup(sid), Option.map((e) => e.roles)),
      withdraw: (sid, target, reason) =>
        Effect.flatMap(lookup(sid), Option.match({
          onNone: () => Effect.succeed(0),
          onSome: (e) => e.session.withdraw(target, reason)
        })),
      onTeardown
    })

  /** The directory over the server's session registry. */
  static readonly fromSessions: Layer.Layer<SessionDirectory, never, Sessions> = Layer.unwrapEffect(
    Effect.map(Sessions, (sessions) =>
      SessionDirectory.fromLookup(
        (sid) => Effect.map(sessions.get(sid), Option.map((live) => ({ session: live.session, roles: live.roles }))),
        sessions.onTeardown
      ))
  )
}
