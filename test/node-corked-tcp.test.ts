/**
 * The corked TCP transport coalesces the writes of one event-loop turn: bytes must still arrive
 * complete and in order on many streams at once — more than yamux's default of ten opened in a burst
 * on a fresh connection, which Horus's muxer settings allow — and a transfer far above the socket's buffer must
 * still finish (back-pressure through a corked socket).
 */
import { createHash } from 'node:crypto'
import { Socket } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import type { Libp2p, Stream } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { corkedTcp } from '../src/node/corked-tcp.js'
import { horusYamux } from '../src/node/stream-muxer.js'

const ECHO = '/horus-test/echo/1.0.0'
const DIGEST = '/horus-test/digest/1.0.0'
const BIG = 4 * 1024 * 1024

async function startNode(): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [corkedTcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [horusYamux()],
  })
  await node.handle(ECHO, (stream) => {
    stream.addEventListener('message', (evt) => {
      stream.send(evt.data)
    })
  })
  // Reads BIG bytes and answers their SHA-256: one direction at full speed, so the sender's
  // back-pressure is what is exercised.
  await node.handle(DIGEST, (stream) => {
    const hash = createHash('sha256')
    let received = 0
    stream.addEventListener('message', (evt) => {
      const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      hash.update(chunk)
      received += chunk.byteLength
      if (received === BIG) stream.send(hash.digest())
    })
  })
  return node
}

/** Everything the remote echoes until `expected` bytes have come back, or a deadline passes. */
function collect(stream: Stream, expected: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let received = 0
    const timer = setTimeout(() => reject(new Error(`echo stalled at ${received}/${expected} bytes`)), 30_000)
    stream.addEventListener('message', (evt) => {
      const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      chunks.push(chunk)
      received += chunk.byteLength
      if (received >= expected) {
        clearTimeout(timer)
        resolve(Buffer.concat(chunks))
      }
    })
  })
}

describe('corked TCP transport', () => {
  let a: Libp2p
  let b: Libp2p

  beforeAll(async () => {
    a = await startNode()
    b = await startNode()
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('delivers many small frames written in one turn, on streams opened at once, complete and in order', async () => {
    const cork = vi.spyOn(Socket.prototype, 'cork')
    try {
      // Opened in one burst on a fresh connection: more than yamux's ten "early" streams.
      const streams = await Promise.all(
        Array.from({ length: 32 }, () => a.dialProtocol(b.getMultiaddrs(), ECHO)),
      )
      const message = (s: number, i: number): Buffer => Buffer.from(`stream ${s} message ${i};`)
      const expected = streams.map((_, s) =>
        Buffer.concat(Array.from({ length: 64 }, (_, i) => message(s, i))),
      )
      const echoes = streams.map((stream, s) => collect(stream, expected[s]?.byteLength ?? 0))
      streams.forEach((stream, s) => {
        for (let i = 0; i < 64; i++) stream.send(message(s, i))
      })
      const got = await Promise.all(echoes)
      got.forEach((bytes, s) => {
        expect(bytes.toString()).toBe(expected[s]?.toString())
      })
      // The wrapper reached @libp2p/tcp's socket: if an upgrade of that package stops exposing
      // it, writes silently go uncorked and this fails.
      expect(cork).toHaveBeenCalled()
      await Promise.all(streams.map((stream) => stream.close()))
    } finally {
      cork.mockRestore()
    }
  })

  it('finishes a transfer far above the socket buffer (back-pressure while corked)', async () => {
    const stream = await a.dialProtocol(b.getMultiaddrs(), DIGEST)
    const payload = Buffer.alloc(BIG)
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i)
    const answer = collect(stream, 32)
    for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
      if (!stream.send(payload.subarray(offset, offset + 64 * 1024))) await stream.onDrain()
    }
    expect((await answer).toString('hex')).toBe(createHash('sha256').update(payload).digest('hex'))
    await stream.close()
  })
})
