/**
 * `/horus/blob/1.0.0` between two real nodes on loopback: verified, resumable, refused when the
 * caller is not trusted or the blob is too large, and robust to a lying or dying server.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import type { HorusNode } from '../src/node/index.js'
import {
  BLOB_PROTOCOL,
  BlobService,
  BlobStore,
  BlobUnavailableError,
  blobRef,
} from '../src/protocols/blob/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'

const mesh = new TestMesh()
afterEach(() => mesh.cleanup())

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

interface Peer {
  node: HorusNode
  blobs: BlobService
}

async function peer(
  name: string,
  options: {
    authorize?: (peer: string) => boolean
    maxBytes?: number
    maxServing?: number
    bootstrap?: string[]
    gcIntervalMs?: number
  } = {},
): Promise<Peer> {
  const node = await mesh.node({
    name,
    ...(options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap }),
  })
  // The node serves its own store (to its policy's coordinators and runners); these tests use a
  // service with their own limits and trust decision instead.
  await node.blobs.stop()
  const store = new BlobStore({
    dir: join(await mesh.tempDir('horus-blobs-'), 'blobs'),
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.gcIntervalMs === undefined ? {} : { graceMs: 0 }),
  })
  const blobs = new BlobService(
    { libp2p: node.libp2p, logger: node.logger },
    {
      store,
      authorize: options.authorize ?? (() => true),
      ...(options.maxServing === undefined ? {} : { maxServing: options.maxServing }),
      stallTimeoutMs: 5_000,
      ...(options.gcIntervalMs === undefined ? {} : { gcIntervalMs: options.gcIntervalMs }),
    },
  )
  await blobs.start()
  return { node, blobs }
}

async function pair(options: Parameters<typeof peer>[1] = {}, fetcher: Parameters<typeof peer>[1] = {}) {
  const server = await peer('server', options)
  const client = await peer('client', { ...fetcher, bootstrap: [server.node.multiaddrs()[0] as string] })
  await waitFor(() => client.node.libp2p.getPeers().some((p) => p.equals(server.node.libp2p.peerId)), {
    what: 'the client to connect',
  })
  return { server, client }
}

/** Bytes of a blob received so far (a partial file). */
async function heldBytes(p: Peer, digest: string): Promise<number> {
  const partial = await p.blobs.store.partial(digest)
  await partial.close()
  return partial.offset
}

function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

describe('blob transfer between two nodes', () => {
  it('fetches a 5 MB blob, streamed, and verifies it against its digest', async () => {
    const { server, client } = await pair()
    const data = bytes(5 * 1024 * 1024)
    const stored = await server.blobs.store.put([data])
    const ref = blobRef(stored.digest, stored.size, [server.node.peerId])
    // Two concurrent requests for the same blob make one transfer.
    const [a, b] = await Promise.all([client.blobs.ensure(ref), client.blobs.ensure(ref)])
    expect(a).toEqual({ digest: sha(data), size: data.byteLength })
    expect(b).toEqual(a)
    expect(client.blobs.stats).toMatchObject({ fetched: 1, fetchedBytes: data.byteLength })
    expect(server.blobs.stats).toMatchObject({ served: 1, servedBytes: data.byteLength })
    const copy: Buffer[] = []
    for await (const chunk of client.blobs.store.read(stored.digest)) copy.push(Buffer.from(chunk))
    expect(Buffer.concat(copy).equals(data)).toBe(true)
  })

  it('deletes, every gcIntervalMs, the blobs whose holds expired or were released', async () => {
    const { blobs } = await peer('collector', { gcIntervalMs: 50 })
    const kept = await blobs.store.put([bytes(1000, 1)])
    const expiring = await blobs.store.put([bytes(1000, 2)])
    const released = await blobs.store.put([bytes(1000, 3)])
    await blobs.store.hold('run:a', [kept.digest])
    await blobs.store.hold('job:b', [expiring.digest], Date.now() + 100)
    await blobs.store.hold('run:c', [released.digest])
    await blobs.store.release('run:c')
    // The hold on `expiring` may lapse before `run:c` is released (a slow machine): wait for both.
    await waitFor(
      async () => !(await blobs.store.has(expiring.digest)) && !(await blobs.store.has(released.digest)),
      { what: 'the expired and the released blobs to go' },
    )
    expect(await blobs.store.has(kept.digest)).toBe(true)
  })

  it('refuses to serve a peer it does not trust, and says so', async () => {
    const { server, client } = await pair({ authorize: () => false })
    const stored = await server.blobs.store.put([bytes(1000)])
    const error = await client.blobs
      .ensure(blobRef(stored.digest, stored.size, [server.node.peerId]))
      .catch((err: unknown) => err)
    expect(error).toBeInstanceOf(BlobUnavailableError)
    expect((error as Error).message).toContain('is not a coordinator or runner this node trusts')
    expect(server.blobs.stats).toMatchObject({ refused: 1, servedBytes: 0 })
  })

  it('never asks a source it does not trust, whoever named it', async () => {
    const { server, client } = await pair({}, { authorize: () => false })
    const stored = await server.blobs.store.put([bytes(1000)])
    const error = await client.blobs
      .ensure(blobRef(stored.digest, stored.size, [server.node.peerId]))
      .catch((err: unknown) => err)
    expect(error).toBeInstanceOf(BlobUnavailableError)
    expect((error as Error).message).toContain('not a coordinator or runner this node trusts (not asked)')
    expect(server.blobs.stats).toMatchObject({ served: 0, refused: 0 })
    expect(await client.blobs.store.has(stored.digest)).toBe(false)
  })

  it('says when no source holds the blob, trying each in turn', async () => {
    const { server, client } = await pair()
    const missing = sha(bytes(10))
    await expect(client.blobs.fetch(missing, { sources: [server.node.peerId] })).rejects.toThrow(
      `blob ${missing} is not held here`,
    )
    await expect(client.blobs.fetch(missing, { sources: [] })).rejects.toThrow('(no source known)')
  })

  it('refuses a blob larger than its limit before reading any of it', async () => {
    const { server, client } = await pair({}, { maxBytes: 100_000 })
    const stored = await server.blobs.store.put([bytes(300_000)])
    await expect(client.blobs.fetch(stored.digest, { sources: [server.node.peerId] })).rejects.toThrow(
      'blob of 300000 bytes exceeds the 100000-byte limit',
    )
    expect(await heldBytes(client, stored.digest)).toBe(0)
  })

  it('answers busy past its serving limit', async () => {
    const { server, client } = await pair({ maxServing: 0 })
    const stored = await server.blobs.store.put([bytes(10)])
    await expect(client.blobs.fetch(stored.digest, { sources: [server.node.peerId] })).rejects.toThrow(
      'the peer is serving as many blob transfers as it allows',
    )
  })

  it('keeps nothing from a server that lies about the bytes, and never reads past the announced size', async () => {
    const { server, client } = await pair()
    const real = bytes(50_000)
    const digest = sha(real)
    // The "server" answers every request with other bytes (the same size), or too many bytes.
    let mode: 'wrong' | 'extra' = 'wrong'
    await server.blobs.stop()
    await server.node.libp2p.handle(BLOB_PROTOCOL, (stream: Stream) => {
      const lp = lpStream(stream)
      void (async () => {
        await lp.read()
        const size = mode === 'wrong' ? real.byteLength : 10
        await lp.write(new TextEncoder().encode(JSON.stringify({ ok: true, size })))
        // Data frames: other bytes of the right size, or more than the 10 bytes announced.
        await lp.write(mode === 'wrong' ? bytes(real.byteLength, 99) : bytes(5_000))
        await stream.close()
      })().catch(() => stream.abort(new Error('x')))
    })
    await expect(client.blobs.fetch(digest, { sources: [server.node.peerId] })).rejects.toThrow('hash to')
    expect(await client.blobs.store.has(digest)).toBe(false)
    expect(await heldBytes(client, digest)).toBe(0)
    mode = 'extra'
    await expect(client.blobs.fetch(digest, { sources: [server.node.peerId] })).rejects.toThrow(
      'the peer sent more than the 10 bytes asked for',
    )
  })

  it('resumes an interrupted transfer from the bytes already received', async () => {
    const { server, client } = await pair()
    const data = bytes(400_000)
    const stored = await server.blobs.store.put([data])
    await server.blobs.stop()
    // First a server that dies after sending the first 150,000 bytes.
    await server.node.libp2p.handle(BLOB_PROTOCOL, (stream: Stream) => {
      const lp = lpStream(stream)
      void (async () => {
        await lp.read()
        await lp.write(new TextEncoder().encode(JSON.stringify({ ok: true, size: data.byteLength })))
        for (let at = 0; at < 150_000; at += 50_000) await lp.write(data.subarray(at, at + 50_000))
        await stream.onDrain().catch(() => {})
        stream.abort(new Error('power cut'))
      })().catch(() => {})
    })
    await expect(client.blobs.fetch(stored.digest, { sources: [server.node.peerId] })).rejects.toThrow(
      BlobUnavailableError,
    )
    const held = await heldBytes(client, stored.digest)
    expect(held).toBeGreaterThan(0)
    expect(held).toBeLessThanOrEqual(150_000)
    // Then the honest server: only the rest travels.
    await server.node.libp2p.unhandle(BLOB_PROTOCOL)
    await server.blobs.start()
    expect(await client.blobs.fetch(stored.digest, { sources: [server.node.peerId] })).toEqual(stored)
    expect(server.blobs.stats.servedBytes).toBe(data.byteLength - held)
  })
})
