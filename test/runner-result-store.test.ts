/**
 * A runner keeps each finished job's answer until the job expires (a dispatch of the same job
 * again is answered, not run again) — and, while it serves, deletes the expired ones without
 * reading the rest: before, only a restart removed them, so a runner that stayed up kept every
 * result it ever wrote on disk.
 */
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { createJob, generateSigner, type JobResult } from '../src/protocols/jobs/index.js'
import { RESULTS_PREFIX } from '../src/roles/runner/service/constants.js'
import { ResultStore } from '../src/roles/runner/service/result-store.js'
import { createStore, type Store } from './jobs-helpers.js'

const stores: Store[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
})

const log = createLogger().forComponent('test')
const answer = (jobId: string) => ({
  // What the store keeps is opaque to it: a stand-in result is enough to tell answers apart.
  result: { jobId } as unknown as JobResult,
  logs: [],
  logsTruncated: false,
  replayed: false,
})

async function storedIds(store: Store): Promise<string[]> {
  const ids: string[] = []
  for await (const key of store.datastore.queryKeys({ prefix: RESULTS_PREFIX })) {
    ids.push(decodeURIComponent(key.toString().slice(RESULTS_PREFIX.length + 1)))
  }
  return ids.sort()
}

describe('the runner’s stored results', () => {
  it('are deleted once their job expired, while it serves, and only those', async () => {
    const store = await createStore()
    stores.push(store)
    const results = new ResultStore(store.datastore, log)
    const signer = generateSigner()
    const now = Date.now()
    const soon = createJob({ runner: 'sal', expiresAt: now + 1_000 }, signer)
    const later = createJob({ runner: 'sal', expiresAt: now + 3_600_000 }, signer)
    await results.put(soon, answer(soon.id))
    await results.put(later, answer(later.id))

    expect(await results.sweep(now)).toBe(0)
    expect(await results.sweep(now + 1_000)).toBe(1)
    expect(await storedIds(store)).toEqual([later.id])
    expect(await results.get(soon)).toBeUndefined()
    expect((await results.get(later))?.result).toEqual({ jobId: later.id })
    expect(results.live).toBe(1)
  })

  it('found live at start are deleted by the sweep when they expire, without another read of all', async () => {
    const store = await createStore()
    stores.push(store)
    const signer = generateSigner()
    const now = Date.now()
    const before = new ResultStore(store.datastore, log)
    const jobs = [1, 2, 3].map((i) => createJob({ runner: 'sal', expiresAt: now + i * 60_000 }, signer))
    for (const job of jobs) await before.put(job, answer(job.id))
    // Written by a runner before this one: expired already, and damaged.
    await store.datastore.put(new Key(`${RESULTS_PREFIX}/damaged`), Buffer.from('not json'))

    const after = new ResultStore(await store.reopen(), log)
    expect(await after.prune(now)).toBe(1)
    expect(after.live).toBe(3)
    let reads = 0
    const query = store.datastore.query.bind(store.datastore)
    store.datastore.query = (...args) => {
      reads++
      return query(...args)
    }
    expect(await after.sweep(now + 120_000)).toBe(2)
    expect(reads).toBe(0)
    expect(await storedIds(store)).toEqual([jobs[2]?.id])
  })

  it('may hold any job while it could not read them all at start, and only the ones it read after', async () => {
    const store = await createStore()
    stores.push(store)
    const signer = generateSigner()
    const kept = createJob({ runner: 'sal', expiresAt: Date.now() + 3_600_000 }, signer)
    await new ResultStore(store.datastore, log).put(kept, answer(kept.id))
    const results = new ResultStore(store.datastore, log)
    const query = store.datastore.query.bind(store.datastore)
    store.datastore.query = async function* () {
      yield* []
      throw new Error('Corruption: block checksum mismatch')
    }
    await expect(results.prune()).rejects.toThrow(/Corruption/)
    // Nothing read: any job's answer may be on disk, so the runner must look before running one.
    expect([results.knows(kept.id), results.knows('another')]).toEqual([true, true])
    store.datastore.query = query
    await results.prune()
    expect([results.knows(kept.id), results.knows('another')]).toEqual([true, false])
  })
})
