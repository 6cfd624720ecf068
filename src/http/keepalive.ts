/**
 * WebSocket liveness (docs/operators.md, Liveness and idle expiry): ping every `pingEvery`; any inbound frame or pong
 * counts as life; silent for `silentAfter` means the socket is dead. Time comes only
 * from Effect's Clock, so TestClock drives it.
 */
import { Clock, Duration, Effect } from "effect"

export interface KeepaliveOptions {
  readonly pingEvery: Duration.DurationInput
  readonly silentAfter: Duration.DurationInput
  /** Send one ping. */
  readonly ping: Effect.Effect<void>
  /** Runs at every ping tick that finds the peer alive (moves the session's last access). */
  readonly onAliveTick?: Effect.Effect<void>
}

export interface Keepalive {
  /** Record life now; synchronous so socket event listeners can call it. */
  readonly alive: () => void
  /** Pings while the peer is alive; completes once it has been silent for `silentAfter`. */
  readonly run: Effect.Effect<void>
}

export const makeKeepalive = (options: KeepaliveOptions): Effect.Effect<Keepalive> =>
  Effect.map(Effect.clock, (clock) => {
    const pingEveryMs = Duration.toMillis(Duration.decode(options.pingEvery))
    const silentAfterMs = Duration.toMillis(Duration.decode(options.silentAfter))
    let lastSeen = clock.unsafeCurrentTimeMillis()
    const alive = () => {
      lastSeen = clock.unsafeCurrentTimeMillis()
    }
    const run = Effect.suspend(() => {
      let nextPing = clock.unsafeCurrentTimeMillis() + pingEveryMs
      const step: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const deadline = lastSeen + silentAfterMs
        if (now >= deadline) return Effect.void
        if (now >= nextPing) {
          nextPing = now + pingEveryMs
          return options.ping.pipe(
            Effect.zipRight(options.onAliveTick ?? Effect.void),
            Effect.zipRight(Effect.suspend(() => step))
          )
        }
        return Effect.zipRight(Effect.sleep(Duration.millis(Math.min(nextPing, deadline) - now)), step)
      })
      return step
    })
    return { alive, run }
  })
