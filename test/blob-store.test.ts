import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import canonicalize from 'canonicalize'
import { afterEach, describe, expect, it } from 'vitest'
import {
  BlobDigestMismatchError,
  BlobStore,
  BlobTooLargeError,
  blobRef,
  containsBlobRef,
  isBlobRef,
} from '../src/protocols/blob/index.js'
import { outputDigest } from '../src/protocols/jobs/index.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function store(options: { maxBytes?: number; graceMs?: number } = {}): Promise<BlobStore> {
  const dir = await mkdtemp(join(tmpdir(), 'horus-blob-'))
  dirs.push(dir)
  const s = new BlobStore({ dir, ...options })
  await s.start()
  return s
}

const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex')

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of source) parts.push(Buffer.from(chunk))
  return Buffer.concat(parts)
}

describe('blob store', () => {
  it('stores a stream under the sha256 of its bytes and reads it back in bounded chunks', async () => {
    const s = await store()
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(10_000, i))
    const stored = await s.put(chunks)
    const whole = Buffer.concat(chunks)
    expect(stored).toEqual({ digest: sha(whole), size: 400_000 })
    expect(await s.has(stored.digest)).toBe(true)
    const sizes: number[] = []
    const parts: Buffer[] = []
    for await (const chunk of s.read(stored.digest)) {
      sizes.push(chunk.byteLength)
      parts.push(Buffer.from(chunk))
    }
    expect(Buffer.concat(parts).equals(whole)).toBe(true)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024)
    expect((await collect(s.read(stored.digest, 399_990))).byteLength).toBe(10)
  })

  it('stores a value’s canonical JSON under the digest a runner signs as outputDigest', async () => {
    const s = await store()
    const value = { text: 'é😀'.repeat(40_000), n: [1, 2.5, -0], nested: { b: 1, a: 2 } }
    const text = canonicalize(value) as string
    const stored = await s.putText(text)
    expect(stored.digest).toBe(outputDigest(value))
    expect(stored.size).toBe(Buffer.byteLength(text))
    expect(JSON.parse(await s.readText(stored.digest))).toEqual(JSON.parse(text))
  })

  it('refuses bytes that do not hash to the expected digest, and blobs over the limit, leaving nothing', async () => {
    const s = await store({ maxBytes: 1_000 })
    await expect(s.put([Buffer.from('hello')], { expected: sha('world') })).rejects.toBeInstanceOf(
      BlobDigestMismatchError,
    )
    await expect(s.put([Buffer.alloc(600), Buffer.alloc(600)])).rejects.toThrow(BlobTooLargeError)
    await expect(s.put([Buffer.alloc(600), Buffer.alloc(600)])).rejects.toThrow(
      'blob of 1200 bytes exceeds the 1000-byte limit',
    )
    expect(await readdir(join(s.dir, 'tmp'))).toEqual([])
    expect(await readdir(join(s.dir, 'sha256'))).toEqual([])
    await expect(s.readText(sha('nothing'))).rejects.toThrow('is not held here')
    expect(() => s.path('../../etc/passwd')).toThrow('invalid blob digest')
  })

  it('resumes a partial blob and accepts it only if the whole hashes to the digest', async () => {
    const s = await store()
    const data = Buffer.alloc(200_000, 7)
    const digest = sha(data)
    const first = await s.partial(digest)
    expect(first.offset).toBe(0)
    await first.write(data.subarray(0, 70_000))
    await first.close()
    const second = await s.partial(digest)
    expect(second.offset).toBe(70_000)
    await second.write(data.subarray(70_000))
    expect(await second.finish(200_000)).toEqual({ digest, size: 200_000 })
    expect((await collect(s.read(digest))).equals(data)).toBe(true)

    const other = sha('x'.repeat(10))
    const bad = await s.partial(other)
    await bad.write(Buffer.from('y'.repeat(10)))
    await expect(bad.finish(10)).rejects.toThrow(BlobDigestMismatchError)
    expect((await s.partial(other)).offset).toBe(0)
  })

  it('garbage-collects blobs nobody holds any more, keeping held and recent ones', async () => {
    const s = await store({ graceMs: 60_000 })
    const kept = await s.put([Buffer.from('kept by a run')])
    const expiring = await s.put([Buffer.from('held by a job until t=1000')])
    const orphan = await s.put([Buffer.from('nobody')])
    const recent = await s.put([Buffer.from('just written')])
    await s.hold('run:r1', [kept.digest])
    await s.hold('job:r1/a/1', [expiring.digest], 1_000)
    const old = new Date(Date.now() - 3_600_000)
    for (const b of [kept, expiring, orphan]) await utimes(s.path(b.digest), old, old)
    // The job hold has expired; the run hold has not.
    const result = await s.gc(Date.now())
    expect(result.deleted).toBe(2)
    expect(await s.has(kept.digest)).toBe(true)
    expect(await s.has(expiring.digest)).toBe(false)
    expect(await s.has(orphan.digest)).toBe(false)
    expect(await s.has(recent.digest)).toBe(true)
    await s.release('run:r1')
    await utimes(s.path(kept.digest), old, old)
    await s.gc()
    expect(await s.has(kept.digest)).toBe(false)
  })
})

describe('blob references', () => {
  it('recognises exactly the reference shape', () => {
    const digest = sha('x')
    expect(isBlobRef(blobRef(digest, 10, ['peerA', 'peerA', 'peerB']))).toBe(true)
    expect(blobRef(digest, 10, ['peerA', 'peerA'])).toEqual({ $blob: digest, size: 10, sources: ['peerA'] })
    expect(isBlobRef({ $blob: digest, size: 10, extra: 1 })).toBe(false)
    expect(isBlobRef({ $blob: 'nothex', size: 10 })).toBe(false)
    expect(isBlobRef({ $blob: digest, size: -1 })).toBe(false)
    expect(isBlobRef({ $blob: digest })).toBe(false)
    expect(containsBlobRef({ a: [1, { b: { $blob: digest, size: 1 } }] })).toBe(true)
    expect(containsBlobRef({ a: [1, { b: { $blob: digest } }] })).toBe(false)
  })
})
