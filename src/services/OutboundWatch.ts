/**
 * How a socket's writer hears about its outbound queue without a fiber parked on it: the
 * session calls the queue's watcher right after it offers a frame and right after it shuts
 * the queue (a newer socket, teardown, or the slot cleared). An idle socket then costs no
 * fiber, stack or waiting taker (docs/performance.md, P3), and a frame goes out from the
 * fiber that offered it, one hop less on the round trip. The queue in the session's slot is
 * still where frames wait; the watcher only drains it.
 */
import type { Queue } from "effect"
import type { ServerFrame } from "../protocol/frames.js"

export interface OutboundWatcher {
  /** Frames were offered to the queue; called synchronously by the offering fiber. */
  readonly offered: () => void
  /** The queue was shut down; called once, after the session's state moved. */
  readonly shut: () => void
}

const watchers = new WeakMap<Queue.Dequeue<ServerFrame>, OutboundWatcher>()

/** Watch `queue`; if it is already shut down, `shut` runs at once. */
export const watchOutbound = (queue: Queue.Dequeue<ServerFrame>, watcher: OutboundWatcher): void => {
  if (queue.isActive()) watchers.set(queue, watcher)
  else watcher.shut()
}

export const notifyOffered = (queue: Queue.Dequeue<ServerFrame>): void => {
  watchers.get(queue)?.offered()
}

export const notifyShut = (queue: Queue.Dequeue<ServerFrame>): void => {
  const watcher = watchers.get(queue)
  if (watcher === undefined) return
  watchers.delete(queue)
  watcher.shut()
}
