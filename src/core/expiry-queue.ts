/**
 * Keys with an expiry, taken out in the order they expire: a binary min-heap on the expiry, plus
 * each key's latest expiry so that a key set again (a later expiry) is not taken out by its older
 * entry. Setting is O(log n), taking the expired is O(log n) each; nothing scans the live keys —
 * what lets a long-running node drop what expired without reading all it holds.
 */
export class ExpiryQueue<K> {
  readonly #heap: Array<{ at: number; key: K }> = []
  readonly #latest = new Map<K, number>()

  /** Live keys (each counted once, whatever times it was set). */
  get size(): number {
    return this.#latest.size
  }

  set(key: K, at: number): void {
    this.#latest.set(key, at)
    this.#heap.push({ at, key })
    this.#up(this.#heap.length - 1)
  }

  has(key: K): boolean {
    return this.#latest.has(key)
  }

  delete(key: K): void {
    // Its heap entries stay until they come up, and are then skipped: no search of the heap.
    this.#latest.delete(key)
  }

  /** Removes and returns the keys whose latest expiry is at or before `now`, soonest first. */
  takeExpired(now: number): K[] {
    const expired: K[] = []
    const heap = this.#heap
    while (heap.length > 0 && (heap[0] as { at: number }).at <= now) {
      const { at, key } = this.#pop()
      if (this.#latest.get(key) !== at) continue
      this.#latest.delete(key)
      expired.push(key)
    }
    return expired
  }

  #pop(): { at: number; key: K } {
    const heap = this.#heap
    const top = heap[0] as { at: number; key: K }
    const last = heap.pop() as { at: number; key: K }
    if (heap.length > 0) {
      heap[0] = last
      this.#down(0)
    }
    return top
  }

  #up(index: number): void {
    const heap = this.#heap
    const item = heap[index] as { at: number; key: K }
    let i = index
    while (i > 0) {
      const parent = (i - 1) >> 1
      const above = heap[parent] as { at: number; key: K }
      if (above.at <= item.at) break
      heap[i] = above
      i = parent
    }
    heap[i] = item
  }

  #down(index: number): void {
    const heap = this.#heap
    const item = heap[index] as { at: number; key: K }
    let i = index
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child =
        right < heap.length && (heap[right] as { at: number }).at < (heap[left] as { at: number }).at
          ? right
          : left
      const below = heap[child] as { at: number; key: K }
      if (item.at <= below.at) break
      heap[i] = below
      i = child
    }
    heap[i] = item
  }
}
