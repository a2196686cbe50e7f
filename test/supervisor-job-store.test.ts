/**
 * The supervisor's job store folds the saves of one job: what it writes, and when each save
 * resolves, on a real LevelDB whose puts the test holds back. Its records are the durable copy of
 * the jobs' nonces (the replay cache spends them in memory only), and it deletes log keys only
 * where it may have written some.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { createJob, generateSigner, jobDigest, ReplayCache } from '../src/protocols/jobs/index.js'
import { JOBS_PREFIX } from '../src/roles/supervisor/constants.js'
import type { JobRecord } from '../src/roles/supervisor/job-record.js'
import { JobStore, restoreJobNonces } from '../src/roles/supervisor/job-store.js'

/** A LevelDB whose puts wait while `hold` is set, and which counts the puts that reached it. */
class HeldDatastore extends LevelDatastore {
  hold: Promise<void> | undefined
  landed = 0
  /** Keys deleted, in order. */
  readonly deleted: string[] = []

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    this.deleted.push(key.toString())
    await super.delete(key, options)
  }

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    await this.hold
    const stored = await super.put(key, value, options)
    this.landed++
    return stored
  }
}

const dirs: string[] = []
const stores: LevelDatastore[] = []
const caches: ReplayCache[] = []

afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.stop()
  for (const store of stores.splice(0)) await store.close()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function open(): Promise<{ datastore: HeldDatastore; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'horus-job-store-'))
  dirs.push(dir)
  const path = join(dir, 'db')
  const datastore = new HeldDatastore(path)
  await datastore.open()
  stores.push(datastore)
  return { datastore, path }
}

/** Closes `datastore` and opens the same LevelDB again, as a node restart does. */
async function reopen(datastore: LevelDatastore, path: string): Promise<LevelDatastore> {
  await datastore.close()
  stores.splice(stores.indexOf(datastore), 1)
  const reopened = new LevelDatastore(path)
  await reopened.open()
  stores.push(reopened)
  return reopened
}

/** The replay cache's own key of a job's nonce. */
function replayKey({ job }: JobRecord): Key {
  return new Key(`/horus/replay/${job.submitter}/${job.nonce}`)
}

/** A job store on `datastore` with a started replay cache on the same datastore, as in a node. */
async function jobStore(datastore: LevelDatastore): Promise<{ store: JobStore; nonces: ReplayCache }> {
  const nonces = new ReplayCache({ datastore })
  await nonces.start()
  caches.push(nonces)
  return { store: new JobStore(datastore, createLogger().forComponent('test'), nonces), nonces }
}

function queuedRecord(): JobRecord {
  const job = createJob({ runner: 'sal', payload: '1 + 1' }, generateSigner())
  const now = Date.now()
  return {
    job,
    digest: jobDigest(job),
    status: 'queued',
    tried: [],
    refused: [],
    source: 'rpc',
    acceptedAt: now,
    updatedAt: now,
  }
}

/** Settles after the writes the test let go could have landed (a few storage round trips). */
async function settled<T>(promise: Promise<T>): Promise<boolean> {
  let done = false
  void promise.then(() => {
    done = true
  })
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('JobStore', () => {
  it('writes a job once when its state changes again before its write starts (accepted and dispatched in one turn)', async () => {
    const { datastore, path } = await open()
    const { store } = await jobStore(datastore)
    const record = queuedRecord()
    const accepted = store.save(record)
    record.status = 'dispatched'
    record.runner = 'runner-a'
    record.tried.push('runner-a')
    const dispatched = store.save(record)
    await Promise.all([accepted, dispatched])
    expect(store.recordWrites).toBe(1)
    expect(datastore.landed).toBe(1)

    const reopened = await reopen(datastore, path)
    const [loaded] = await (await jobStore(reopened)).store.load(60_000)
    expect(loaded).toEqual(record)
  })

  it('resolves a save only once a write holding its state is on disk, folding the saves made meanwhile into one write of the newest', async () => {
    const { datastore } = await open()
    const { store } = await jobStore(datastore)
    const record = queuedRecord()
    let release: () => void = () => {}
    datastore.hold = new Promise((resolve) => {
      release = resolve
    })
    const accepted = store.save(record)
    await new Promise((resolve) => setImmediate(resolve))
    // The first write is on its way (held): these two states wait for it, then go as one write.
    record.status = 'dispatched'
    const dispatched = store.save(record)
    record.status = 'succeeded'
    const finished = store.save(record)
    expect(await settled(accepted)).toBe(false)
    expect(await settled(finished)).toBe(false)
    datastore.hold = undefined
    release()
    await Promise.all([accepted, dispatched, finished])
    expect(store.recordWrites).toBe(2)
    expect(datastore.landed).toBe(2)
    const [stored] = await (await jobStore(datastore)).store.load(60_000)
    expect(stored?.status).toBe('succeeded')
    expect(stored?.job).toEqual(record.job)
  })

  it('prunes the jobs finished longest ago, stopping at the first one still retained, and never an unfinished one', async () => {
    const { datastore } = await open()
    const { store } = await jobStore(datastore)
    const t0 = Date.now()
    const finishedAt = (record: JobRecord, at: number): JobRecord => ({
      ...record,
      status: 'succeeded',
      updatedAt: at,
    })
    const [a, b, c] = [queuedRecord(), queuedRecord(), queuedRecord()]
    const running = { ...queuedRecord(), updatedAt: t0 - 60_000 }
    await Promise.all([
      store.save(finishedAt(a, t0)),
      store.save(finishedAt(b, t0 + 1_000)),
      store.save(finishedAt(c, t0 + 2_000)),
      store.save(running),
    ])
    // a is saved again, finished later: it moves behind c.
    await store.save(finishedAt(a, t0 + 3_000))
    expect(await store.prune(500, t0 + 1_600)).toBe(1)
    expect([a, b, c, running].map((r) => store.has(r.job.id))).toEqual([true, false, true, true])
    expect(await store.prune(500, t0 + 3_600)).toBe(2)
    expect(store.size).toBe(1)
    expect(store.has(running.job.id)).toBe(true)
    // A restart rebuilds the order from the records on disk.
    const { store: reloaded } = await jobStore(datastore)
    await store.save(finishedAt(running, t0 + 5_000))
    await reloaded.load(60_000)
    expect(reloaded.size).toBe(1)
    expect(await reloaded.prune(500, t0 + 5_600)).toBe(1)
    expect(reloaded.size).toBe(0)
  })

  it('holds about retention × rate finished jobs under a steady stream, pruned each interval', async () => {
    const { datastore } = await open()
    const { store } = await jobStore(datastore)
    const t0 = Date.now()
    // 40 jobs per simulated second for 30 s, retention 10 s, pruned every simulated second.
    let most = 0
    for (let second = 0; second < 30; second++) {
      const now = t0 + second * 1_000
      await Promise.all(
        Array.from({ length: 40 }, () =>
          store.save({ ...queuedRecord(), status: 'succeeded', updatedAt: now }),
        ),
      )
      await store.prune(10_000, now)
      most = Math.max(most, store.size)
    }
    // 11 seconds' worth: those within the 10 s retention and the second being finished.
    expect(most).toBe(11 * 40)
  })

  it('gives the nonce of every job it loads back to the replay cache, which wrote none of them itself', async () => {
    const { datastore, path } = await open()
    const { store, nonces } = await jobStore(datastore)
    const [queued, done] = [queuedRecord(), { ...queuedRecord(), status: 'succeeded' as const }]
    for (const { job } of [queued, done]) {
      expect(nonces.claimKeptByCaller(job.submitter, job.nonce, job.expiresAt)).toBe(true)
    }
    await Promise.all([store.save(queued), store.save(done)])
    for (const record of [queued, done]) await expect(datastore.has(replayKey(record))).resolves.toBe(false)

    await nonces.stop()
    const reopened = await reopen(datastore, path)
    const after = await jobStore(reopened)
    expect([queued, done].map(({ job }) => after.nonces.has(job.submitter, job.nonce))).toEqual([
      false,
      false,
    ])
    expect(await after.store.load(60_000)).toHaveLength(2)
    expect([queued, done].map(({ job }) => after.nonces.has(job.submitter, job.nonce))).toEqual([true, true])
    // A node without a supervisor now reads the same nonces without loading the jobs.
    const bare = await jobStore(reopened)
    expect(await restoreJobNonces(reopened, bare.nonces)).toBe(2)
    expect(bare.nonces.has(done.job.submitter, done.job.nonce)).toBe(true)
  })

  it('skips a damaged record alone: the records after it still load, their nonces given back', async () => {
    const { datastore, path } = await open()
    const { store, nonces } = await jobStore(datastore)
    const [first, second] = [queuedRecord(), queuedRecord()]
    for (const { job } of [first, second]) nonces.claimKeptByCaller(job.submitter, job.nonce, job.expiresAt)
    await Promise.all([store.save(first), store.save(second)])
    // Before every real record in key order: '!' sorts ahead of the ids' characters.
    const damaged = ['{}', 'null', '{"job":{"id":"x"}}', '{"job":{"id":"y","submitter":1}}', 'not json']
    for (const [i, text] of damaged.entries()) {
      await datastore.put(new Key(`${JOBS_PREFIX}/!${i}`), Buffer.from(text))
    }

    await nonces.stop()
    const reopened = await reopen(datastore, path)
    const after = await jobStore(reopened)
    const loaded = await after.store.load(60_000)
    expect(loaded.map((r) => r.job.id).sort()).toEqual([first.job.id, second.job.id].sort())
    expect([first, second].map(({ job }) => after.nonces.has(job.submitter, job.nonce))).toEqual([true, true])
    // Of a damaged record, its key's job id is left: that job may have been taken here already.
    const before = first.job.createdAt
    expect(after.store.mayHaveHeld({ id: '!0', createdAt: before }, 0)).toBe(true)
    expect(after.store.mayHaveHeld({ id: first.job.id, createdAt: before }, 0)).toBe(false)
    expect(after.store.mayHaveHeld({ id: 'another', createdAt: before }, 0)).toBe(false)
    // A job made after the load began is not the damaged record's, whatever its id.
    expect(after.store.mayHaveHeld({ id: '!0', createdAt: Date.now() + 1 }, 0)).toBe(false)
    // A node without a supervisor now: the same records give back the same two nonces, no others.
    const bare = await jobStore(reopened)
    expect(await restoreJobNonces(reopened, bare.nonces)).toBe(2)
    expect(bare.nonces.size).toBe(2)
  })

  it('after a load a datastore error stopped, takes every job made before it as possibly held already', async () => {
    const { datastore, path } = await open()
    const { store, nonces } = await jobStore(datastore)
    const records = [queuedRecord(), queuedRecord(), queuedRecord()]
    await Promise.all(records.map((r) => store.save(r)))
    await nonces.stop()
    const reopened = await reopen(datastore, path)
    // A datastore that answers one record, then fails (a bad table LevelDB opened or repaired).
    const query = reopened.query.bind(reopened)
    reopened.query = async function* (q, options) {
      let left = 1
      for await (const pair of query(q, options)) {
        if (left-- === 0) throw new Error('Corruption: block checksum mismatch')
        yield pair
      }
    }
    const after = await jobStore(reopened)
    const loaded = await after.store.load(60_000)
    expect(loaded).toHaveLength(1)
    const unread = records.filter((r) => r.job.id !== loaded[0]?.job.id)
    const skewMs = 30_000
    for (const { job } of unread) expect(after.store.mayHaveHeld(job, skewMs)).toBe(true)
    // Made after the load began (more than the skew later): it cannot be one of the unread records.
    expect(after.store.mayHaveHeld({ id: 'later', createdAt: Date.now() + skewMs + 1 }, skewMs)).toBe(false)
  })

  it('writes the nonce of a job still valid to the replay cache before it prunes its record, so a replay after a restart is still refused', async () => {
    const { datastore, path } = await open()
    const { store, nonces } = await jobStore(datastore)
    const t0 = Date.now()
    const valid = { ...queuedRecord(), status: 'succeeded' as const, updatedAt: t0 }
    const expired = { ...queuedRecord(), status: 'succeeded' as const, updatedAt: t0 }
    expired.job = { ...expired.job, expiresAt: t0 + 500 }
    for (const { job } of [valid, expired])
      nonces.claimKeptByCaller(job.submitter, job.nonce, job.expiresAt, t0)
    await Promise.all([store.save(valid), store.save(expired)])
    // Retention (100 ms) far shorter than `valid`'s validity (10 minutes); `expired` is past its own.
    expect(await store.prune(100, t0 + 1_000)).toBe(2)
    await expect(datastore.has(replayKey(valid))).resolves.toBe(true)
    await expect(datastore.has(replayKey(expired))).resolves.toBe(false)

    await nonces.stop()
    const reopened = await reopen(datastore, path)
    const after = await jobStore(reopened)
    expect(await after.store.load(100)).toHaveLength(0)
    expect(after.nonces.has(valid.job.submitter, valid.job.nonce)).toBe(true)
  })

  it("deletes a job's log key when it drops the job only if it wrote log lines for it", async () => {
    const { datastore } = await open()
    const { store } = await jobStore(datastore)
    const t0 = Date.now()
    const [quiet, chatty] = [queuedRecord(), queuedRecord()]
    await store.setLogs(quiet.job.id, [])
    await store.setLogs(chatty.job.id, ['hello'])
    await Promise.all([quiet, chatty].map((r) => store.save({ ...r, status: 'succeeded', updatedAt: t0 })))
    expect(await store.prune(100, t0 + 1_000)).toBe(2)
    const logKeys = datastore.deleted.filter((key) => key.startsWith('/horus/supervisor/logs/'))
    expect(logKeys).toEqual([`/horus/supervisor/logs/${encodeURIComponent(chatty.job.id)}`])
    expect(datastore.deleted).toContain(`/horus/supervisor/jobs/${encodeURIComponent(quiet.job.id)}`)
    await expect(store.getLogs(chatty.job.id)).resolves.toEqual([])
  })
})
