/**
 * A datastore in memory that holds at most `maxEntries` keys and `maxBytes` of values, dropping the
 * least recently written first. It holds libp2p's peer store: every peer that connects, even once
 * and with a fresh key, gets a record there (identify, up to ~8 KB each), and the peer store frees
 * a record only when that record is read again hours later — so without a bound a stranger that
 * keeps reconnecting with new keys grows the node's memory until it dies.
 *
 * Peers in use keep their records: libp2p rewrites a peer's record on every stream opened and every
 * identify, so they are always among the most recently written; a dropped record costs the peer's
 * addresses and protocols until its next identify, or its next heartbeat (`heard-addrs.ts`).
 */
import type { AbortOptions } from '@libp2p/interface'
import { BaseDatastore } from 'datastore-core'
import { Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { NotFoundError } from 'interface-store'

export interface MemoryBounds {
  maxEntries: number
  maxBytes: number
}

export class BoundedMemoryDatastore extends BaseDatastore {
  /** In write order: the first entry is the least recently written. */
  private readonly data = new Map<string, Uint8Array>()
  private bytes = 0
  /** Records dropped to stay within the bounds, since start. */
  evicted = 0

  constructor(private readonly bounds: MemoryBounds) {
    super()
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.data.size, bytes: this.bytes }
  }

  override put(key: Key, value: Uint8Array, options?: AbortOptions): Key {
    options?.signal?.throwIfAborted()
    this.remove(key.toString())
    this.data.set(key.toString(), value)
    this.bytes += value.byteLength
    this.evict()
    return key
  }

  override get(key: Key, options?: AbortOptions): Uint8Array {
    options?.signal?.throwIfAborted()
    const value = this.data.get(key.toString())
    if (value === undefined) throw new NotFoundError()
    return value
  }

  override has(key: Key, options?: AbortOptions): boolean {
    options?.signal?.throwIfAborted()
    return this.data.has(key.toString())
  }

  override delete(key: Key, options?: AbortOptions): void {
    options?.signal?.throwIfAborted()
    this.remove(key.toString())
  }

  override *_all(_q: Query, options?: AbortOptions): Generator<Pair> {
    for (const [key, value] of [...this.data]) {
      options?.signal?.throwIfAborted()
      yield { key: new Key(key), value }
    }
  }

  override *_allKeys(_q: KeyQuery, options?: AbortOptions): Generator<Key> {
    for (const key of [...this.data.keys()]) {
      options?.signal?.throwIfAborted()
      yield new Key(key)
    }
  }

  private remove(id: string): void {
    const old = this.data.get(id)
    if (old === undefined) return
    this.data.delete(id)
    this.bytes -= old.byteLength
  }

  private evict(): void {
    const { maxEntries, maxBytes } = this.bounds
    for (const id of this.data.keys()) {
      if (this.data.size <= maxEntries && this.bytes <= maxBytes) return
      this.remove(id)
      this.evicted++
    }
  }
}
