/**
 * The supervisor's job store folds the saves of one job: what it writes, and when each save
 * resolves, on a real LevelDB whose puts the test holds back.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { LevelDatastore } from 'datastore-level'
import type { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { createJob, generateSigner, jobDigest } from '../src/protocols/jobs/index.js'
import type { JobRecord } from '../src/roles/supervisor/job-record.js'
import { JobStore } from '../src/roles/supervisor/job-store.js'

/** A LevelDB whose puts wait while `hold` is set, and which counts the puts that reached it. */
class HeldDatastore extends LevelDatastore {
  hold: Promise<void> | undefined
  landed = 0

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    await this.hold
    const stored = await super.put(key, value, options)
    this.landed++
    return stored
  }
}

const dirs: string[] = []
const stores: LevelDatastore[] = []

afterEach(async () => {
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
    const store = new JobStore(datastore, createLogger().forComponent('test'))
    const record = queuedRecord()
    const accepted = store.save(record)
    record.status = 'dispatched'
    record.runner = 'runner-a'
    record.tried.push('runner-a')
    const dispatched = store.save(record)
    await Promise.all([accepted, dispatched])
    expect(store.recordWrites).toBe(1)
    expect(datastore.landed).toBe(1)

    await datastore.close()
    stores.splice(stores.indexOf(datastore), 1)
    const reopened = new LevelDatastore(path)
    await reopened.open()
    stores.push(reopened)
    const [loaded] = await new JobStore(reopened, createLogger().forComponent('test')).load(60_000)
    expect(loaded).toEqual(record)
  })

  it('resolves a save only once a write holding its state is on disk, folding the saves made meanwhile into one write of the newest', async () => {
    const { datastore } = await open()
    const store = new JobStore(datastore, createLogger().forComponent('test'))
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
    const [stored] = await new JobStore(datastore, createLogger().forComponent('test')).load(60_000)
    expect(stored?.status).toBe('succeeded')
    expect(stored?.job).toEqual(record.job)
  })

  it('prunes the jobs finished longest ago, stopping at the first one still retained, and never an unfinished one', async () => {
    const { datastore } = await open()
    const store = new JobStore(datastore, createLogger().forComponent('test'))
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
    const reloaded = new JobStore(datastore, createLogger().forComponent('test'))
    await store.save(finishedAt(running, t0 + 5_000))
    await reloaded.load(60_000)
    expect(reloaded.size).toBe(1)
    expect(await reloaded.prune(500, t0 + 5_600)).toBe(1)
    expect(reloaded.size).toBe(0)
  })

  it('holds about retention × rate finished jobs under a steady stream, pruned each interval', async () => {
    const { datastore } = await open()
    const store = new JobStore(datastore, createLogger().forComponent('test'))
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
})
