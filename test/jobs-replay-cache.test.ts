import { Key } from 'interface-datastore'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createJob,
  createJobVerifier,
  generateSigner,
  MAX_EXPIRED_PER_CLAIM,
  ReplayCache,
  ReplayCacheNotStartedError,
  signerKeyHex,
  TrustPolicy,
} from '../src/protocols/jobs/index.js'
import { waitFor } from '../src/testing/index.js'
import { createStore, type Store } from './jobs-helpers.js'

let store: Store
const caches: ReplayCache[] = []

beforeEach(async () => {
  store = await createStore()
})

afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.stop()
  await store.close()
})

async function startCache(): Promise<ReplayCache> {
  const cache = new ReplayCache({ datastore: store.datastore })
  caches.push(cache)
  await cache.start()
  return cache
}

/** Stops `cache` and starts a new one on the datastore reopened from disk: a process restart. */
async function restartCache(cache: ReplayCache): Promise<ReplayCache> {
  await cache.stop()
  await store.reopen()
  return startCache()
}

const submitter = 'aa'.repeat(32)

describe('ReplayCache', () => {
  it('records a pair once and reports it until it expires', async () => {
    const cache = await startCache()
    const now = Date.now()
    expect(await cache.record(submitter, '01'.repeat(16), now + 1_000, now)).toBe(true)
    expect(await cache.record(submitter, '01'.repeat(16), now + 1_000, now)).toBe(false)
    expect(cache.has(submitter, '01'.repeat(16), now + 999)).toBe(true)
    expect(cache.has(submitter, '01'.repeat(16), now + 1_000)).toBe(false)
    expect(cache.has('bb'.repeat(32), '01'.repeat(16), now)).toBe(false)
  })

  it('keeps live entries across a restart of the cache and the datastore, and drops expired ones', async () => {
    const first = await startCache()
    const now = Date.now()
    await first.record(submitter, '02'.repeat(16), now + 600_000)
    // Recorded with an earlier clock, so it is already expired when the second cache starts.
    await first.record(submitter, '03'.repeat(16), now - 1, now - 60_000)
    await first.stop()
    const datastore = await store.reopen()
    const expiredKey = new Key(`/horus/replay/${submitter}/${'03'.repeat(16)}`)
    await expect(datastore.has(expiredKey)).resolves.toBe(true)
    const second = new ReplayCache({ datastore })
    caches.push(second)
    await second.start()
    expect(second.has(submitter, '02'.repeat(16))).toBe(true)
    expect(second.has(submitter, '03'.repeat(16))).toBe(false)
    expect(second.size).toBe(1)
    await expect(datastore.has(expiredKey)).resolves.toBe(false)
  })

  it('prunes expired entries from memory and the datastore', async () => {
    const cache = await startCache()
    const now = Date.now()
    await cache.record(submitter, '04'.repeat(16), now + 100, now)
    await cache.record(submitter, '05'.repeat(16), now + 10_000, now)
    expect(await cache.prune(now + 200)).toBe(1)
    expect(cache.size).toBe(1)
    await expect(store.datastore.has(new Key(`/horus/replay/${submitter}/${'04'.repeat(16)}`))).resolves.toBe(
      false,
    )
    await expect(store.datastore.has(new Key(`/horus/replay/${submitter}/${'05'.repeat(16)}`))).resolves.toBe(
      true,
    )
  })

  it('drops expired entries from its head as new pairs are claimed, without waiting for the prune timer', async () => {
    const cache = await startCache()
    const now = Date.now()
    const nonce = (i: number): string => i.toString(16).padStart(32, '0')
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => cache.record(submitter, nonce(i), now + 100, now)),
    )
    expect(cache.size).toBe(100)
    // Past their expiry: each claim takes up to MAX_EXPIRED_PER_CLAIM of the expired head with it.
    await cache.record(submitter, nonce(100), now + 10_000, now + 200)
    expect(cache.size).toBe(100 - MAX_EXPIRED_PER_CLAIM + 1)
    await cache.record(submitter, nonce(101), now + 10_000, now + 200)
    expect(cache.size).toBe(2)
    await waitFor(
      async () => !(await store.datastore.has(new Key(`/horus/replay/${submitter}/${nonce(99)}`))),
      {
        what: 'the expired entries to leave the datastore',
      },
    )
    await expect(store.datastore.has(new Key(`/horus/replay/${submitter}/${nonce(0)}`))).resolves.toBe(false)
    await expect(store.datastore.has(new Key(`/horus/replay/${submitter}/${nonce(101)}`))).resolves.toBe(true)
    // A pair claimed again once expired is live again, at the end of the order.
    expect(await cache.record(submitter, nonce(0), now + 20_000, now + 200)).toBe(true)
    expect(cache.has(submitter, nonce(0), now + 15_000)).toBe(true)
  })

  it('refuses use before start', () => {
    const cache = new ReplayCache({ datastore: store.datastore })
    expect(() => cache.has(submitter, '06'.repeat(16))).toThrow(ReplayCacheNotStartedError)
  })
})

describe('a replayed job after the verifying node restarts', () => {
  it('is rejected as replayed', async () => {
    const client = generateSigner()
    const policy = TrustPolicy.parse({
      keys: [{ key: signerKeyHex(client), roles: ['client'], capabilities: ['*'] }],
    })
    const job = createJob({ runner: 'sal', payload: 'rm -rf /tmp/x' }, client)
    const wire = new TextEncoder().encode(JSON.stringify(job))

    const before = await startCache()
    const verifierBefore = createJobVerifier({ trust: policy, replayCache: before })
    expect((await verifierBefore.verify(wire)).ok).toBe(true)

    const after = await restartCache(before)
    const verifierAfter = createJobVerifier({ trust: policy, replayCache: after })
    expect(await verifierAfter.verify(wire)).toMatchObject({ ok: false, reason: 'replayed' })
    expect(verifierAfter.stats().rejected.replayed).toBe(1)
    // A fresh job from the same client is still fine.
    expect((await verifierAfter.verify(createJob({ runner: 'sal' }, client))).ok).toBe(true)
  })
})

describe('a nonce whose durable copy the caller keeps (persistNonce: false)', () => {
  it('is spent in memory only, and after a restart is spent again once the caller restores it', async () => {
    const client = generateSigner()
    const policy = TrustPolicy.parse({
      keys: [{ key: signerKeyHex(client), roles: ['client'], capabilities: ['*'] }],
    })
    const cache = await startCache()
    const verifier = createJobVerifier({ trust: policy, replayCache: cache })
    const job = createJob({ runner: 'sal', payload: '1' }, client)
    expect(await verifier.verify(job, { persistNonce: false })).toMatchObject({ ok: true })
    expect(await verifier.verify(job, { persistNonce: false })).toMatchObject({
      ok: false,
      reason: 'replayed',
    })
    expect(await verifier.verify(job)).toMatchObject({ ok: false, reason: 'replayed' })
    const key = new Key(`/horus/replay/${job.submitter}/${job.nonce}`)
    await expect(store.datastore.has(key)).resolves.toBe(false)

    const after = await restartCache(cache)
    expect(after.has(job.submitter, job.nonce)).toBe(false)
    // What the caller does at start with the record it wrote before acknowledging the job.
    after.restore(job.submitter, job.nonce, job.expiresAt)
    const verifierAfter = createJobVerifier({ trust: policy, replayCache: after })
    expect(await verifierAfter.verify(job)).toMatchObject({ ok: false, reason: 'replayed' })
    // Restoring an expired pair spends nothing.
    const old = createJob({ runner: 'sal', payload: '2' }, client)
    after.restore(old.submitter, old.nonce, Date.now() - 1)
    expect(after.has(old.submitter, old.nonce, Date.now() - 10_000)).toBe(false)
  })

  it('expires without a datastore delete, and is written here when the caller gives up its copy first', async () => {
    const cache = await startCache()
    const now = Date.now()
    const [short, long] = ['0a'.repeat(16), '0b'.repeat(16)]
    expect(cache.claimKeptByCaller(submitter, short, now + 100, now)).toBe(true)
    expect(cache.claimKeptByCaller(submitter, long, now + 600_000, now)).toBe(true)
    expect(cache.claimKeptByCaller(submitter, long, now + 600_000, now)).toBe(false)
    // The caller deletes its record of `long` while the job is valid: the pair is written here.
    await cache.persist(submitter, long, now + 600_000, now)
    const longKey = new Key(`/horus/replay/${submitter}/${long}`)
    await expect(store.datastore.has(longKey)).resolves.toBe(true)
    const deleteMany = vi.spyOn(store.datastore, 'deleteMany')
    const deleteOne = vi.spyOn(store.datastore, 'delete')
    expect(await cache.prune(now + 200)).toBe(1)
    expect(deleteMany).not.toHaveBeenCalled()
    expect(deleteOne).not.toHaveBeenCalled()
    expect(cache.has(submitter, short, now + 200)).toBe(false)

    const after = await restartCache(cache)
    expect(after.has(submitter, long)).toBe(true)
    expect(after.has(submitter, short)).toBe(false)
  })

  it('keeps a pair it wrote for a deleted record spent across a restart, until it expires', async () => {
    const cache = await startCache()
    const now = Date.now()
    const [persisted, marked] = ['0c'.repeat(16), '0d'.repeat(16)]
    expect(cache.claimKeptByCaller(submitter, persisted, now + 600_000, now)).toBe(true)
    await cache.persist(submitter, persisted, now + 600_000, now)
    // What the release before wrote for such a pair: its expiry and a mark.
    await store.datastore.put(
      new Key(`/horus/replay/${submitter}/${marked}`),
      Buffer.from(`${now + 600_000}r`),
    )

    const after = await restartCache(cache)
    expect([after.has(submitter, persisted), after.has(submitter, marked)]).toEqual([true, true])
    expect(await after.record(submitter, persisted, now + 600_000)).toBe(false)
    expect(await after.record(submitter, marked, now + 600_000)).toBe(false)
    expect(after.has(submitter, persisted, now + 600_001)).toBe(false)
  })
})
