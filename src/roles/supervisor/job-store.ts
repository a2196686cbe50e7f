/**
 * The supervisor's jobs: all in memory for reads, each written through to the node's datastore
 * under `/horus/supervisor/jobs/<encoded id>`. Writes of one job are chained so the datastore
 * always ends with the latest state, whatever order the storage threads finish in.
 *
 * Saves of one job fold: while a write of the job is on its way, every later save joins one
 * pending write, serialised when it starts, with the newest state. Each save still resolves only
 * once a write holding its state (or a newer one) is in the datastore, so "persisted before
 * acknowledged" holds; what goes is a write of a state that a newer one replaced before it could
 * start. The envelope's JSON and the record's key are made once per job while it is live, not once
 * per save.
 *
 * Finished jobs are also kept in the order they finished, so pruning takes the ones past retention
 * from the head instead of scanning every record: the supervisor can then prune every second or
 * so, and a finished job stays in memory about its retention, not up to a prune interval longer
 * (at 800 jobs/s and 10 s retention pruned every 10 s, up to 16,000 records instead of 8,000;
 * BENCHMARKS.md, memory, fifth session).
 *
 * A job's record is also the durable copy of its nonce: the supervisor spends nonces in memory
 * only (`ReplayCache.claimKeptByCaller`), as the record written before the job is acknowledged
 * holds the nonce anyway — one put per accepted job instead of two. So `load` gives every record's
 * nonce back to the replay cache, and a record deleted while its job is still valid (a retention
 * shorter than the job's validity) first has its nonce written to the replay cache.
 *
 * A job's log lines are written only if it had any (a no-op job has none): the store remembers
 * which jobs it wrote lines for, so dropping a job deletes a log key only where there may be one.
 */
import type { Logger } from '@libp2p/interface'
import { type Datastore, Key } from 'interface-datastore'
import { jobDigest } from '../../protocols/jobs/index.js'
import { JOBS_PREFIX, LOGS_PREFIX } from './constants.js'
import { isTerminal, type JobRecord, type SupervisorJobStatus } from './job-record.js'

const decoder = new TextDecoder()

/** What the store needs of the replay cache: the records it keeps are the nonces' durable copies. */
export interface NonceKeeper {
  restore(submitter: string, nonce: string, expiresAt: number, now?: number): void
  persist(submitter: string, nonce: string, expiresAt: number, now?: number): Promise<void>
}

export class JobStore {
  private readonly records = new Map<string, JobRecord>()
  private readonly logs = new Map<string, string[]>()
  private readonly chains = new Map<string, Promise<void>>()
  /** A job's write that has not started yet, and the newest record it will write. */
  private readonly pending = new Map<string, { record: JobRecord; written: Promise<void> }>()
  /** Job id → `updatedAt` of each finished job, in the order they finished (oldest first). */
  private readonly finished = new Map<string, number>()
  /**
   * Of each job not yet finished, what every save of it writes the same: `JSON.stringify(record.job)`
   * and the datastore key.
   */
  private readonly live = new Map<string, { envelope: string; key: Key }>()
  /**
   * Jobs that may have a log key: those whose lines this store wrote, and every job read by `load`
   * (whether an earlier process wrote lines for it is not known without a read per job).
   */
  private readonly logged = new Set<string>()
  /** Record writes handed to the datastore (saves folded into a later write do not count). */
  private writes = 0
  /**
   * What `load` could not read, whose nonces it therefore could not give back: the ids of damaged
   * records (from their keys), and whether a datastore error stopped it; `loadedAt`: when it began.
   */
  private readonly unreadable = new Set<string>()
  private loadStopped = false
  private loadedAt = 0

  constructor(
    private readonly datastore: Datastore,
    private readonly log: Logger,
    private readonly nonces: NonceKeeper,
  ) {}

  /**
   * Reads every persisted job, giving the nonce of each back to the replay cache; drops finished
   * ones older than `retentionMs`.
   */
  async load(retentionMs: number): Promise<JobRecord[]> {
    const now = Date.now()
    this.loadedAt = now
    const stale: JobRecord[] = []
    try {
      await this.readAll(now, retentionMs, stale)
    } catch (err) {
      // A damaged block of the datastore (one that opened, or was repaired, with a bad table):
      // the jobs read so far are kept and the supervisor starts; the rest cannot be read, nor
      // their nonces given back (see `mayHaveHeld`).
      this.loadStopped = true
      this.log.error(
        'reading the persisted jobs stopped at a datastore error after %d job(s): %s; jobs created before now are refused until they expire',
        this.records.size,
        (err as Error).message,
      )
    }
    for (const { job } of this.records.values())
      this.nonces.restore(job.submitter, job.nonce, job.expiresAt, now)
    await Promise.all(stale.map((record) => this.drop(record, now)))
    const done = [...this.records.values()].filter((r) => isTerminal(r.status))
    for (const r of done.sort((a, b) => a.updatedAt - b.updatedAt)) this.finished.set(r.job.id, r.updatedAt)
    return [...this.records.values()]
  }

  private async readAll(now: number, retentionMs: number, stale: JobRecord[]): Promise<void> {
    for await (const { key, value } of this.datastore.query({ prefix: JOBS_PREFIX })) {
      let record: JobRecord
      try {
        record = JSON.parse(decoder.decode(value)) as JobRecord
        if (!hasJobIdentity(record)) throw new Error('no job id, submitter, nonce or expiry')
        // Records written before results were bound to their envelope carry no digest.
        record.digest ??= jobDigest(record.job)
      } catch (err) {
        // One damaged record is skipped alone: the records after it still load, nonces included.
        // Its job id, from the key, is all that is left to refuse that job by.
        this.log.error('skipping unreadable job record %s: %s', key.toString(), (err as Error).message)
        const id = jobIdOf(key)
        if (id !== undefined) this.unreadable.add(id)
        continue
      }
      this.logged.add(record.job.id)
      if (isExpired(record, now, retentionMs)) stale.push(record)
      else this.records.set(record.job.id, record)
    }
  }

  /**
   * Whether `job` may be one this supervisor accepted before it started and could not read back at
   * start, nonce included: made before the load began (less `clockSkewMs`, the most its `createdAt`
   * may run ahead of the clock that accepted it), with its record damaged or the load stopped at a
   * datastore error. Taking it as new could run it a second time. A job made later is none of
   * those, so the refusal ends with the lifetime of the jobs made before.
   */
  mayHaveHeld(job: { id: string; createdAt: number }, clockSkewMs: number): boolean {
    if (job.createdAt - clockSkewMs > this.loadedAt) return false
    return this.loadStopped || this.unreadable.has(job.id)
  }

  /**
   * Drops finished jobs older than `retentionMs` (record and logs); returns how many. Takes them
   * from the head of the finished order and stops at the first one still retained: its cost is the
   * jobs it drops. (Should the clock step back, jobs behind a younger head wait for it.)
   */
  async prune(retentionMs: number, now: number = Date.now()): Promise<number> {
    const stale: JobRecord[] = []
    for (const [id, updatedAt] of this.finished) {
      if (now - updatedAt <= retentionMs) break
      const record = this.records.get(id)
      if (record !== undefined) stale.push(record)
    }
    await Promise.all(stale.map((record) => this.drop(record, now)))
    return stale.length
  }

  get(jobId: string): JobRecord | undefined {
    return this.records.get(jobId)
  }

  has(jobId: string): boolean {
    return this.records.has(jobId)
  }

  get size(): number {
    return this.records.size
  }

  list(status?: SupervisorJobStatus): JobRecord[] {
    const all = [...this.records.values()]
    return status === undefined ? all : all.filter((r) => r.status === status)
  }

  /** Keeps `record` and resolves once its current state (or a newer one) is in the datastore. */
  async save(record: JobRecord): Promise<void> {
    const id = record.job.id
    this.records.set(id, record)
    if (!isTerminal(record.status)) this.finished.delete(id)
    else if (this.finished.get(id) !== record.updatedAt) {
      // At the end of the order: a job saved again after it finished moves with its new time.
      this.finished.delete(id)
      this.finished.set(id, record.updatedAt)
    }
    const waiting = this.pending.get(id)
    if (waiting !== undefined) {
      waiting.record = record
      return waiting.written
    }
    const next = { record, written: Promise.resolve() }
    this.pending.set(id, next)
    next.written = this.chain(id, () => {
      if (this.pending.get(id) === next) this.pending.delete(id)
      this.writes++
      const { key, json } = this.encode(next.record)
      return this.datastore.put(key, bytesOf(json))
    })
    return next.written
  }

  /**
   * The job's writes still on their way (rejects as the newest does), or undefined when its record
   * is on disk: a record read from memory is only acknowledged once it is durable.
   */
  written(jobId: string): Promise<void> | undefined {
    return this.chains.get(jobId)
  }

  /** How many record writes went to the datastore since this store was made. */
  get recordWrites(): number {
    return this.writes
  }

  /**
   * The record's key and JSON, the envelope's part and the key made once per job (dropped once it is
   * terminal).
   */
  private encode(record: JobRecord): { key: Key; json: string } {
    const { job, ...rest } = record
    let live = this.live.get(job.id)
    if (live === undefined) {
      live = { envelope: JSON.stringify(job), key: jobKey(job.id) }
      if (!isTerminal(record.status)) this.live.set(job.id, live)
    } else if (isTerminal(record.status)) this.live.delete(job.id)
    return { key: live.key, json: `{"job":${live.envelope},${JSON.stringify(rest).slice(1)}` }
  }

  /** Log lines of a job: kept in memory while it runs, written once when it ends. */
  appendLog(jobId: string, line: string, maxLines: number): void {
    let lines = this.logs.get(jobId)
    if (lines === undefined) {
      lines = []
      this.logs.set(jobId, lines)
    }
    if (lines.length < maxLines) lines.push(line)
  }

  async setLogs(jobId: string, lines: string[]): Promise<void> {
    this.logs.set(jobId, lines)
    if (lines.length === 0) return
    this.logged.add(jobId)
    const bytes = bytesOf(JSON.stringify(lines))
    await this.chain(`logs:${jobId}`, () => this.datastore.put(logKey(jobId), bytes))
  }

  async getLogs(jobId: string): Promise<string[]> {
    const inMemory = this.logs.get(jobId)
    if (inMemory !== undefined) return [...inMemory]
    try {
      return JSON.parse(decoder.decode(await this.datastore.get(logKey(jobId)))) as string[]
    } catch {
      return []
    }
  }

  /** Forgets the in-memory log lines of a finished job (they stay in the datastore). */
  releaseLogs(jobId: string): void {
    this.logs.delete(jobId)
  }

  /** Forgets a job and deletes its record (and its log lines, if it may have some). */
  private async drop(record: JobRecord, now: number): Promise<void> {
    const { id, submitter, nonce, expiresAt } = record.job
    this.records.delete(id)
    this.finished.delete(id)
    this.logs.delete(id)
    this.live.delete(id)
    const logged = this.logged.delete(id)
    await this.chain(id, async () => {
      // The record is the durable copy of the nonce: kept elsewhere first while the job is valid.
      if (expiresAt > now) await this.nonces.persist(submitter, nonce, expiresAt, now)
      // Issued together: a batching datastore writes both in one batch.
      await Promise.all([
        this.datastore.delete(jobKey(id)),
        logged ? this.datastore.delete(logKey(id)) : undefined,
      ])
    })
  }

  /** Waits for every pending write (before the datastore closes). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.chains.values()])
  }

  private chain(id: string, write: () => unknown): Promise<void> {
    const previous = this.chains.get(id) ?? Promise.resolve()
    const next = previous.then(
      async () => {
        await write()
      },
      async () => {
        await write()
      },
    )
    this.chains.set(id, next)
    const forget = (): void => {
      if (this.chains.get(id) === next) this.chains.delete(id)
    }
    next.then(forget, forget)
    return next
  }
}

/**
 * Gives the nonces held in the supervisor's records back to the replay cache without loading the
 * jobs: for a node whose data holds such records but which runs no supervisor now (the role was
 * dropped across a restart), so that its runner still refuses a replay of a job accepted here
 * before. Resolves how many it gave back; unreadable records are skipped.
 */
export async function restoreJobNonces(datastore: Datastore, nonces: NonceKeeper): Promise<number> {
  const now = Date.now()
  let restored = 0
  for await (const { value } of datastore.query({ prefix: JOBS_PREFIX })) {
    let record: unknown
    try {
      record = JSON.parse(decoder.decode(value))
    } catch {
      continue
    }
    // The same test of a record as `load`'s: a damaged one gives back nothing.
    if (!hasJobIdentity(record) || record.job.expiresAt <= now) continue
    const { job } = record
    nonces.restore(job.submitter, job.nonce, job.expiresAt, now)
    restored++
  }
  return restored
}

// Both keys are already clean (no `//`, no trailing `/`: encodeURIComponent escapes `/`, and a job id
// is never empty), so Key's normalisation (~0.6 µs a key) is skipped.
function jobKey(jobId: string): Key {
  return new Key(`${JOBS_PREFIX}/${encodeURIComponent(jobId)}`, jobId === '')
}

/** The job id a record's key was made from by `jobKey`, if the key is one. */
function jobIdOf(key: Key): string | undefined {
  const text = key.toString()
  if (!text.startsWith(`${JOBS_PREFIX}/`)) return undefined
  try {
    return decodeURIComponent(text.slice(JOBS_PREFIX.length + 1))
  } catch {
    return undefined
  }
}

function logKey(jobId: string): Key {
  return new Key(`${LOGS_PREFIX}/${encodeURIComponent(jobId)}`, jobId === '')
}

/**
 * Buffer.from copies into Node's pooled slab; TextEncoder allocates a buffer per write (~2 µs more
 * for a 1 KB record). Nothing writes into the bytes once handed to the datastore.
 */
function bytesOf(json: string): Uint8Array {
  return Buffer.from(json)
}

function isExpired(record: JobRecord, now: number, retentionMs: number): boolean {
  return isTerminal(record.status) && now - record.updatedAt > retentionMs
}

/** Whether a parsed record holds what loading it needs: the job's id and its nonce's identity. */
function hasJobIdentity(record: unknown): record is JobRecord {
  const job = (record as { job?: Partial<JobRecord['job']> } | null)?.job
  return (
    typeof job === 'object' &&
    job !== null &&
    typeof job.id === 'string' &&
    typeof job.submitter === 'string' &&
    typeof job.nonce === 'string' &&
    typeof job.expiresAt === 'number'
  )
}
