/**
 * The node's LevelDB datastore, with the puts and deletes of one event-loop turn written as one
 * LevelDB batch. Each write still resolves only once its batch is in LevelDB, so whoever awaits a
 * put before acknowledging (the supervisor's job records, the runner's results, the replay cache)
 * keeps exactly the durability it had: an acknowledged write survives a kill -9 of the process.
 * What changes is the cost: one native call and one write-ahead-log append per turn instead of one
 * per key — at a few hundred jobs per second, 4–6 writes per job were ~12 % of a role's CPU.
 *
 * Reads see writes not yet committed (read-your-writes), as they did when each put went straight
 * to LevelDB before the caller continued.
 *
 * A key is turned into its string once per write and handed to LevelDB as that string: through
 * `LevelDatastore.batch()` it was decoded from the key's bytes three times per write.
 */

import type { AbortOptions } from '@libp2p/interface'
import { LevelDatastore } from 'datastore-level'
import type { Key } from 'interface-datastore'
import { DeleteFailedError, NotFoundError, PutFailedError } from 'interface-store'

/** At most this many writes go into one batch; the rest wait for the next one. */
export const MAX_BATCH_WRITES = 1_000

interface Pending {
  /** The key as a string (`key.toString()`), what LevelDB stores. */
  id: string
  /** undefined: a delete. */
  value: Uint8Array | undefined
  resolve: () => void
  reject: (err: Error) => void
}

export class BatchingLevelDatastore extends LevelDatastore {
  private queue: Pending[] = []
  private scheduled = false
  private readonly committing = new Set<Promise<void>>()
  /** The newest uncommitted value of each key written (undefined: deleted), for reads. */
  private readonly unwritten = new Map<string, { value: Uint8Array | undefined; writes: number }>()
  private batchCount = 0

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    options?.signal?.throwIfAborted()
    await this.enqueue(key, value)
    return key
  }

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.enqueue(key, undefined)
  }

  override async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const pending = this.unwritten.get(key.toString())
    if (pending === undefined) return super.get(key, options)
    if (pending.value === undefined) throw new NotFoundError()
    return pending.value
  }

  override async has(key: Key, options?: AbortOptions): Promise<boolean> {
    const pending = this.unwritten.get(key.toString())
    if (pending === undefined) return super.has(key, options)
    return pending.value !== undefined
  }

  /** LevelDB batches written since the store was made. */
  get batchesWritten(): number {
    return this.batchCount
  }

  /** Waits for every write queued so far (before the store closes). */
  override async close(): Promise<void> {
    while (this.queue.length > 0) await this.commit()
    await Promise.allSettled([...this.committing])
    await super.close()
  }

  private enqueue(key: Key, value: Uint8Array | undefined): Promise<void> {
    const id = key.toString()
    const seen = this.unwritten.get(id)
    if (seen === undefined) this.unwritten.set(id, { value, writes: 1 })
    else {
      seen.value = value
      seen.writes++
    }
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ id, value, resolve, reject })
    })
    if (!this.scheduled) {
      this.scheduled = true
      // After this turn's I/O callbacks: every write they issued goes into the same batch.
      setImmediate(() => {
        void this.commit()
      })
    }
    return done
  }

  private commit(): Promise<void> {
    this.scheduled = false
    const writes = this.queue.splice(0, MAX_BATCH_WRITES)
    if (this.queue.length > 0) {
      this.scheduled = true
      setImmediate(() => {
        void this.commit()
      })
    }
    if (writes.length === 0) return Promise.resolve()
    const done = this.write(writes)
    this.committing.add(done)
    void done.finally(() => this.committing.delete(done))
    return done
  }

  private async write(writes: Pending[]): Promise<void> {
    const ops = writes.map((w) =>
      w.value === undefined
        ? { type: 'del' as const, key: w.id }
        : { type: 'put' as const, key: w.id, value: w.value },
    )
    let failure: Error | undefined
    try {
      this.batchCount++
      await this.db.batch(ops)
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
    }
    for (const w of writes) {
      const seen = this.unwritten.get(w.id)
      if (seen !== undefined) {
        if (seen.writes <= 1) this.unwritten.delete(w.id)
        else seen.writes--
      }
      if (failure === undefined) w.resolve()
      else
        w.reject(
          w.value === undefined
            ? new DeleteFailedError(String(failure))
            : new PutFailedError(String(failure)),
        )
    }
  }
}
