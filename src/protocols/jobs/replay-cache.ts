/**
 * Remembers every `(submitter, nonce)` accepted for execution until the job expires, in the node's
 * datastore so a replay after a restart is still refused. Entries are few (one per job accepted
 * within a TTL window), so all live ones are also kept in memory: `has()` is synchronous and the
 * datastore is only written on record and read once at start.
 *
 * Expired entries leave as jobs arrive, not only when the prune timer fires: the map keeps
 * insertion order and nearly every job carries the same validity, so its head holds the entries
 * that expire first, and each `claim` drops the expired ones there (at most
 * MAX_EXPIRED_PER_CLAIM, their datastore deletes in the same turn as the claim's put). Held
 * entries then stay near (jobs per second × validity) instead of growing by up to a prune
 * interval's worth of dead ones — at 800 jobs/s, 30 s jobs and the 60 s timer of then, 72,000 entries
 * instead of 24,000 (BENCHMARKS.md, memory, fifth session). An entry with a longer validity at the
 * head holds back the shorter ones behind it until it expires; the timer's full sweep still
 * removes those.
 *
 * A caller that writes each accepted job to its own record before acknowledging it (the
 * supervisor) keeps the nonce there instead of under this cache's prefix: `claimKeptByCaller`
 * spends the pair in memory only, `restore` gives it back when the caller loads its records at
 * start, and `persist` writes it here after all when the caller deletes a record whose job is still
 * valid. One datastore put per accepted job instead of two, and nothing to delete when it expires.
 */
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { type Datastore, Key } from 'interface-datastore'
import { createLogger } from '../../core/logger.js'
import { DEFAULT_REPLAY_PRUNE_INTERVAL_MS, REPLAY_CACHE_PREFIX } from './constants.js'
import { ReplayCacheNotStartedError } from './errors.js'

export interface ReplayCacheInit {
  datastore: Datastore
  logger?: ComponentLogger
  /** @default DEFAULT_REPLAY_PRUNE_INTERVAL_MS */
  pruneIntervalMs?: number
}

/** Expired entries one `claim` removes at most: bounds its work after a long idle period. */
export const MAX_EXPIRED_PER_CLAIM = 64

const decoder = new TextDecoder()

export class ReplayCache implements Startable {
  readonly #datastore: Datastore
  readonly #log: Logger
  readonly #pruneIntervalMs: number
  /** `submitter/nonce` → expiresAt (ms). */
  readonly #entries = new Map<string, number>()
  /** Entries whose durable copy the caller keeps (see `claimKeptByCaller`): none under our prefix. */
  readonly #keptByCaller = new Set<string>()
  #started = false
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(init: ReplayCacheInit) {
    this.#datastore = init.datastore
    this.#log = (init.logger ?? createLogger()).forComponent('horus:replay-cache')
    this.#pruneIntervalMs = init.pruneIntervalMs ?? DEFAULT_REPLAY_PRUNE_INTERVAL_MS
  }

  async start(): Promise<void> {
    if (this.#started) return
    const now = Date.now()
    const expired: Key[] = []
    for await (const { key, value } of this.#datastore.query({ prefix: REPLAY_CACHE_PREFIX })) {
      const id = entryId(key)
      const text = decoder.decode(value)
      const released = text.endsWith(RELEASED_MARK)
      const expiresAt = Number(released ? text.slice(0, -RELEASED_MARK.length) : text)
      if (id === undefined || !Number.isFinite(expiresAt) || expiresAt <= now) expired.push(key)
      else this.#entries.set(id, expiresAt)
    }
    await this.#deleteKeys(expired)
    this.#started = true
    this.#timer = setInterval(() => {
      this.prune().catch((err: unknown) => {
        this.#log.error('pruning the replay cache failed: %e', err)
      })
    }, this.#pruneIntervalMs)
    this.#timer.unref()
    this.#log('loaded %d live entries, dropped %d expired', this.#entries.size, expired.length)
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#started = false
    this.#entries.clear()
    this.#keptByCaller.clear()
  }

  /** Live entries in memory. */
  get size(): number {
    return this.#entries.size
  }

  has(submitter: string, nonce: string, now: number = Date.now()): boolean {
    return this.#live(`${submitter}/${nonce}`, now)
  }

  #live(id: string, now: number): boolean {
    this.#assertStarted()
    const expiresAt = this.#entries.get(id)
    return expiresAt !== undefined && expiresAt > now
  }

  /**
   * Records the pair; resolves false (and records nothing) if it is already present. The memory
   * entry is set before the first await, so two concurrent calls with the same pair cannot both
   * win. A datastore write failure is logged, not thrown: the pair still guards this process, and
   * refusing a verified job because a disk is full would turn a storage fault into a job fault.
   */
  async record(
    submitter: string,
    nonce: string,
    expiresAt: number,
    now: number = Date.now(),
  ): Promise<boolean> {
    const written = this.claim(submitter, nonce, expiresAt, now)
    if (written === undefined) return false
    await written
    return true
  }

  /**
   * `record()` without the wait: records the pair in memory at once and returns its datastore
   * write (which never rejects; a failure is logged), or undefined (and records nothing) if the
   * pair is already present.
   */
  claim(
    submitter: string,
    nonce: string,
    expiresAt: number,
    now: number = Date.now(),
  ): Promise<void> | undefined {
    if (!this.#spend(submitter, nonce, expiresAt, now, false)) return undefined
    return Promise.resolve()
      .then(() => this.#datastore.put(entryKey(submitter, nonce), entryValue(expiresAt)))
      .then(
        () => undefined,
        (err: unknown) => {
          this.#log.error('persisting replay entry %s/%s failed: %e', submitter, nonce, err)
        },
      )
  }

  /**
   * Records the pair in memory only; returns false (and records nothing) if it is already
   * present. For a caller that writes the job, nonce included, to a record of its own before it
   * acknowledges the job: that record is the pair's durable copy. The caller must hand the pair
   * back with `restore()` whenever it starts (before anything it serves could verify a job), and
   * call `persist()` before deleting such a record while the job is still valid.
   */
  claimKeptByCaller(submitter: string, nonce: string, expiresAt: number, now: number = Date.now()): boolean {
    return this.#spend(submitter, nonce, expiresAt, now, true)
  }

  /**
   * A pair whose durable copy the caller keeps (`claimKeptByCaller`), read back from it at start:
   * spent again in memory, unless it has expired or is already here.
   */
  restore(submitter: string, nonce: string, expiresAt: number, now: number = Date.now()): void {
    if (expiresAt > now) this.#spend(submitter, nonce, expiresAt, now, true)
    else this.#assertStarted()
  }

  /**
   * The caller is about to delete its durable copy of a pair (`claimKeptByCaller`) whose job is
   * still valid: the pair is written under this cache's prefix first, so a replay after a restart
   * is still refused. Rejects when the write fails — the caller must then keep its copy.
   */
  async persist(
    submitter: string,
    nonce: string,
    expiresAt: number,
    now: number = Date.now(),
  ): Promise<void> {
    this.#assertStarted()
    if (expiresAt <= now) return
    const id = `${submitter}/${nonce}`
    if (!this.#entries.has(id)) this.#entries.set(id, expiresAt)
    // Ours from now on: should it expire while the write is on its way, its delete follows the put.
    const wasKept = this.#keptByCaller.delete(id)
    try {
      await this.#datastore.put(entryKey(submitter, nonce), entryValue(expiresAt))
    } catch (err) {
      if (wasKept && this.#entries.has(id)) this.#keptByCaller.add(id)
      throw err
    }
  }

  /** Spends the pair in memory; false if it is already spent. */
  #spend(submitter: string, nonce: string, expiresAt: number, now: number, keptByCaller: boolean): boolean {
    // One string for the look-up and the entry: its hash is computed once.
    const id = `${submitter}/${nonce}`
    if (this.#live(id, now)) return false
    // An expired pair claimed again goes to the end, where its new expiry belongs.
    this.#entries.delete(id)
    this.#entries.set(id, expiresAt)
    if (keptByCaller) this.#keptByCaller.add(id)
    else this.#keptByCaller.delete(id)
    this.#dropExpiredHead(now)
    return true
  }

  /** Drops entries whose job has expired; resolves how many. */
  async prune(now: number = Date.now()): Promise<number> {
    this.#assertStarted()
    const expired: Key[] = []
    let dropped = 0
    for (const [id, expiresAt] of this.#entries) {
      if (expiresAt > now) continue
      this.#entries.delete(id)
      dropped++
      if (!this.#keptByCaller.delete(id)) expired.push(new Key(`${REPLAY_CACHE_PREFIX}/${id}`))
    }
    await this.#deleteKeys(expired)
    return dropped
  }

  /** Removes expired entries from the head of the map, up to the first live one. */
  #dropExpiredHead(now: number): void {
    const expired: Key[] = []
    let dropped = 0
    for (const [id, expiresAt] of this.#entries) {
      if (expiresAt > now || dropped === MAX_EXPIRED_PER_CLAIM) break
      this.#entries.delete(id)
      dropped++
      if (!this.#keptByCaller.delete(id)) expired.push(new Key(`${REPLAY_CACHE_PREFIX}/${id}`))
    }
    if (expired.length === 0) return
    // Issued together, so a batching datastore writes them with this turn's other writes.
    Promise.all(expired.map((key) => this.#datastore.delete(key))).catch((err: unknown) => {
      this.#log.error('deleting %d expired replay entries failed: %e', expired.length, err)
    })
  }

  async #deleteKeys(keys: Key[]): Promise<void> {
    if (keys.length === 0) return
    for await (const _ of this.#datastore.deleteMany(keys)) {
      // drain: deleteMany is lazy
    }
  }

  #assertStarted(): void {
    if (!this.#started) throw new ReplayCacheNotStartedError()
  }
}

function entryKey(submitter: string, nonce: string): Key {
  return new Key(`${REPLAY_CACHE_PREFIX}/${submitter}/${nonce}`)
}

/**
 * The entry's value: its expiry as decimal text. Buffer.from copies into Node's pooled slab rather
 * than allocating a buffer per entry as TextEncoder does; nothing writes into it afterwards.
 */
function entryValue(expiresAt: number): Uint8Array {
  return Buffer.from(String(expiresAt))
}

/**
 * Ended the value of an entry `persist` wrote, in the release before the supervisor stopped taking
 * a spent pair without a record as its own: still read, so such entries load as live ones.
 */
const RELEASED_MARK = 'r'

function entryId(key: Key): string | undefined {
  const parts = key
    .toString()
    .slice(REPLAY_CACHE_PREFIX.length + 1)
    .split('/')
  return parts.length === 2 ? parts.join('/') : undefined
}
