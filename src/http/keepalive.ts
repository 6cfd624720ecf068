/**
 * WebSocket liveness (docs/operators.md, Liveness and idle expiry): ping every `pingEvery`; any inbound frame or pong
 * counts as life; silent for `silentAfter` means the socket is dead. One sweep serves every
 * socket of the server — no timer or fiber per socket, so ten thousand idle sockets cost a
 * set entry each. Time comes only from Effect's Clock, so TestClock drives it.
 */
import { Clock, Duration, Effect } from "effect"

export interface KeepaliveOptions {
  readonly pingEvery: Duration.DurationInput
  readonly silentAfter: Duration.DurationInput
}

/** What the sweep does to one socket; called synchronously from the sweep. */
export interface KeepaliveTarget {
  /** Send one ping. */
  readonly ping: () => void
  /** The peer was silent for `silentAfter`; the socket is no longer watched. */
  readonly onSilent: () => void
  /** At every ping that finds the peer alive (moves the session's last access). */
  readonly onAliveTick?: () => void
}

/** One watched socket. */
export interface Watched {
  /** Record life now; synchronous so socket event listeners can call it. */
  readonly alive: () => void
  /** Stop watching (the socket is gone). */
  readonly remove: () => void
}

export interface KeepaliveSweep {
  readonly watch: (target: KeepaliveTarget) => Watched
  /** The sweep; runs until interrupted. */
  readonly run: Effect.Effect<never>
  /** Sockets watched now. */
  readonly size: () => number
}

class Entry implements Watched {
  lastSeen: number
  nextPing: number
  constructor(
    readonly target: KeepaliveTarget,
    private readonly sweep: { readonly now: () => number; readonly entries: Set<Entry> },
    pingEveryMs: number
  ) {
    this.lastSeen = sweep.now()
    this.nextPing = this.lastSeen + pingEveryMs
  }
  alive() {
    this.lastSeen = this.sweep.now()
  }
  remove() {
    this.sweep.entries.delete(this)
  }
}

/**
 * The sweep wakes at the earliest ping or deadline among all sockets (never more than once
 * per `minGap`, so many sockets with spread-out times cost one scan per second at most).
 * A socket watched while it sleeps has its first ping and its deadline no earlier than the
 * wake-up, so nobody is pinged or given up late, except by up to `minGap` under that load.
 */
export const makeKeepaliveSweep = (options: KeepaliveOptions): Effect.Effect<KeepaliveSweep> =>
  Effect.map(Effect.clock, (clock) => {
    const pingEveryMs = Duration.toMillis(Duration.decode(options.pingEvery))
    const silentAfterMs = Duration.toMillis(Duration.decode(options.silentAfter))
    const idleSleepMs = Math.min(pingEveryMs, silentAfterMs)
    const minGapMs = Math.min(1_000, idleSleepMs)
    const shared = { now: () => clock.unsafeCurrentTimeMillis(), entries: new Set<Entry>() }
    const step = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      let next = now + idleSleepMs
      for (const entry of shared.entries) {
        const deadline = entry.lastSeen + silentAfterMs
        if (now >= deadline) {
          shared.entries.delete(entry)
          entry.target.onSilent()
          continue
        }
        if (now >= entry.nextPing) {
          entry.nextPing = now + pingEveryMs
          entry.target.ping()
          entry.target.onAliveTick?.()
        }
        next = Math.min(next, entry.nextPing, deadline)
      }
      return Effect.sleep(Duration.millis(Math.max(next - now, minGapMs)))
    })
    return {
      watch: (target) => {
        const entry = new Entry(target, shared, pingEveryMs)
        shared.entries.add(entry)
        return entry
      },
      run: Effect.forever(step),
      size: () => shared.entries.size
    }
  })
