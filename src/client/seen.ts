/**
 * The requests this operator has been handed, by `req_id`, with the reply it sent. Bounded:
 * past `capacity` the oldest entries are forgotten, so memory stays flat however long the
 * operator runs (a request that old was answered or withdrawn long ago).
 */
export interface SeenEntry<W, R> {
  readonly withdrawn: W
  reply: R | undefined
}

export class SeenRequests<W, R> {
  private readonly entries = new Map<string, SeenEntry<W, R>>()

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer")
  }

  get size(): number {
    return this.entries.size
  }

  get(reqId: string): SeenEntry<W, R> | undefined {
    return this.entries.get(reqId)
  }

  /** Records a request seen for the first time; evicts the oldest entry when full. */
  add(reqId: string, withdrawn: W): SeenEntry<W, R> {
    const entry: SeenEntry<W, R> = { withdrawn, reply: undefined }
    this.entries.set(reqId, entry)
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
    return entry
  }
}
