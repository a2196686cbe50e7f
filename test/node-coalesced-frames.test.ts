/**
 * Horus's muxer hands the yamux frames of one event-loop turn to noise as one write, so noise
 * seals them as one message (`src/node/frame-coalescing.ts`). Over real TCP + noise + yamux
 * connections: many small messages and large transfers still arrive complete and in order both
 * ways, as far fewer noise messages than frames; a stock libp2p peer (plain yamux) reads them;
 * frames written in the turn a connection is closed still arrive; an abort ends both sides' streams.
 */
import { createHash } from 'node:crypto'
import { type ICryptoInterface, noise, pureJsCrypto } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection, Libp2p, MessageStream, Stream, StreamCloseEvent } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { pEvent } from 'p-event'
import { afterEach, describe, expect, it } from 'vitest'
import { corkedTcp } from '../src/node/corked-tcp.js'
import { MAX_CONNECTION_WRITE_BUFFER_BYTES } from '../src/node/frame-coalescing.js'
import { horusYamux } from '../src/node/stream-muxer.js'

const ECHO = '/horus-test/echo/1.0.0'
const DIGEST = '/horus-test/digest/1.0.0'
const SINK = '/horus-test/sink/1.0.0'
const DEADLINE_MS = 30_000

/** A host and the number of noise messages it has sealed (handshake included). */
interface Host {
  node: Libp2p
  sealed: () => number
  /** What each SINK stream received before its remote closed it, in arrival order. */
  sunk: Promise<Buffer>[]
}

/** noise's JS crypto with every ChaCha20-Poly1305 seal counted: one per noise message. */
function countingCrypto(): { crypto: ICryptoInterface; sealed: () => number } {
  let count = 0
  return {
    crypto: {
      ...pureJsCrypto,
      chaCha20Poly1305Encrypt(...args) {
        count++
        return pureJsCrypto.chaCha20Poly1305Encrypt(...args)
      },
    },
    sealed: () => count,
  }
}

function bytesOf(data: Uint8Array | { subarray: () => Uint8Array }): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

/** Everything `stream` receives until its remote closes its writable end. */
async function readAll(stream: Stream): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(bytesOf(chunk))
  return Buffer.concat(chunks)
}

/** `stock`: TCP, noise and yamux as libp2p ships them, without any Horus wrapper. */
async function startHost(kind: 'horus' | 'stock' = 'horus'): Promise<Host> {
  const counting = countingCrypto()
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [kind === 'horus' ? corkedTcp() : tcp()],
    connectionEncrypters: [noise({ crypto: counting.crypto })],
    streamMuxers: [kind === 'horus' ? horusYamux() : yamux()],
  })
  const sunk: Promise<Buffer>[] = []
  await node.handle(ECHO, (stream) => {
    stream.addEventListener('message', (evt) => {
      stream.send(evt.data)
    })
  })
  // Answers the SHA-256 of everything it read, once the remote closed its writable end.
  await node.handle(DIGEST, async (stream) => {
    const hash = createHash('sha256')
    for await (const chunk of stream) hash.update(bytesOf(chunk))
    stream.send(hash.digest())
    await stream.close()
  })
  await node.handle(SINK, (stream) => {
    sunk.push(readAll(stream))
  })
  return { node, sealed: counting.sealed, sunk }
}

/** `promise`, or a rejection naming `what` once the deadline passes (the timer is cleared either way). */
async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** The first `expected` bytes `stream` receives, or a rejection naming how far it got. */
function collect(stream: Stream, expected: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let received = 0
    const timer = setTimeout(() => reject(new Error(`stalled at ${received}/${expected} bytes`)), DEADLINE_MS)
    stream.addEventListener('message', (evt) => {
      const chunk = bytesOf(evt.data)
      chunks.push(chunk)
      received += chunk.byteLength
      if (received >= expected) {
        clearTimeout(timer)
        resolve(Buffer.concat(chunks))
      }
    })
  })
}

/** Bytes that differ at every position, so a reordered, dropped or repeated chunk shows. */
function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length)
  for (let i = 0; i + 4 <= length; i += 4) bytes.writeUInt32LE((i * 2654435761 + seed) >>> 0, i)
  return bytes
}

/** Writes `payload` in 64 KiB sends, waiting whenever the stream asks for a drain, then closes it. */
async function sendAll(stream: Stream, payload: Buffer): Promise<void> {
  for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
    if (!stream.send(payload.subarray(offset, offset + 64 * 1024))) {
      await stream.onDrain({ signal: AbortSignal.timeout(DEADLINE_MS) })
    }
  }
  await stream.close()
}

async function digestOver(from: Libp2p, to: Libp2p, payload: Buffer): Promise<string> {
  const stream = await from.dialProtocol(to.getMultiaddrs(), DIGEST)
  const answer = collect(stream, 32)
  await sendAll(stream, payload)
  return (await answer).toString('hex')
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function connectionBetween(from: Libp2p, to: Libp2p): Connection {
  const conn = from.getConnections(to.peerId)[0]
  if (conn === undefined) throw new Error('no connection between the two hosts')
  return conn
}

describe('coalesced yamux frames over noise', () => {
  let hosts: Host[] = []

  afterEach(async () => {
    await Promise.all(hosts.map((h) => h.node.stop()))
    hosts = []
  })

  async function pair(second: 'horus' | 'stock' = 'horus'): Promise<[Host, Host]> {
    const a = await startHost()
    const b = await startHost(second)
    hosts.push(a, b)
    await a.node.dial(b.node.getMultiaddrs())
    return [a, b]
  }

  it('delivers many small messages on many streams both ways, in order, in far fewer noise messages than frames', async () => {
    const [a, b] = await pair()
    const STREAMS = 16
    const MESSAGES = 64
    // Half the streams opened by each side: both sides write and echo.
    const streams = await Promise.all(
      Array.from({ length: 2 * STREAMS }, (_, s) =>
        s % 2 === 0
          ? a.node.dialProtocol(b.node.getMultiaddrs(), ECHO)
          : b.node.dialProtocol(a.node.getMultiaddrs(), ECHO),
      ),
    )
    const message = (s: number, i: number): Buffer => Buffer.from(`stream ${s} message ${i};`)
    const expected = streams.map((_, s) =>
      Buffer.concat(Array.from({ length: MESSAGES }, (_, i) => message(s, i))),
    )
    const echoes = streams.map((stream, s) => collect(stream, expected[s]?.byteLength ?? 0))
    const sealedBefore = a.sealed() + b.sealed()
    // One turn: every message is its own yamux frame.
    streams.forEach((stream, s) => {
      for (let i = 0; i < MESSAGES; i++) stream.send(message(s, i))
    })
    const got = await Promise.all(echoes)
    got.forEach((bytes, s) => {
      expect(bytes.toString()).toBe(expected[s]?.toString())
    })
    // 2,048 frames out and at least as many echoed back; one noise message each without
    // coalescing. With it, a turn's frames share a message (each turn's ~38 KB fits in one).
    const frames = 2 * 2 * STREAMS * MESSAGES
    const sealed = a.sealed() + b.sealed() - sealedBefore
    expect(sealed).toBeGreaterThan(0)
    expect(sealed).toBeLessThan(frames / 8)
    await Promise.all(streams.map((stream) => stream.close()))
  })

  it('delivers large transfers both ways at once intact, through back-pressure', async () => {
    const [a, b] = await pair()
    // Far above the socket buffers and yamux's 256 KiB stream window, in 64 KiB sends: frames
    // fill noise messages and the connection asks for drains.
    const toB = pattern(3 * 1024 * 1024 + 7, 1)
    const toA = pattern(2 * 1024 * 1024 + 13, 2)
    const [atB, atA] = await Promise.all([digestOver(a.node, b.node, toB), digestOver(b.node, a.node, toA)])
    expect(atB).toBe(sha256(toB))
    expect(atA).toBe(sha256(toA))
  })

  it('is read by a stock libp2p peer, and reads it, without any change on that side', async () => {
    const [horus, stock] = await pair('stock')
    const small = await horus.node.dialProtocol(stock.node.getMultiaddrs(), ECHO)
    const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i};`))
    const echoed = collect(
      small,
      messages.reduce((n, m) => n + m.length, 0),
    )
    for (const m of messages) small.send(m)
    expect((await echoed).toString()).toBe(Buffer.concat(messages).toString())
    const big = pattern(1024 * 1024 + 3, 3)
    expect(await digestOver(horus.node, stock.node, big)).toBe(sha256(big))
    expect(await digestOver(stock.node, horus.node, big)).toBe(sha256(big))
    await small.close()
  })

  it('delivers the frames of the turn in which the connection is closed, and closes without an error', async () => {
    const [a, b] = await pair()
    const stream = await a.node.dialProtocol(b.node.getMultiaddrs(), SINK)
    const conn = connectionBetween(a.node, b.node)
    const closedHere = pEvent(conn, 'close', { signal: AbortSignal.timeout(DEADLINE_MS) })
    const messages = Array.from({ length: 100 }, (_, i) => Buffer.from(`last words ${i};`))
    // Same turn: every frame below (data, the stream's FIN, yamux's GoAway) is still held when
    // the connection starts closing.
    for (const m of messages) stream.send(m)
    await conn.close()
    // Closed, not aborted: held frames written after the transport began closing would be
    // refused and noise would abort the connection. (The remote's own event is not checked: b
    // may still be writing window updates when a's socket goes away, and sees EPIPE.)
    expect(((await closedHere) as StreamCloseEvent).error).toBeUndefined()
    expect(b.sunk).toHaveLength(1)
    const received = await withDeadline(
      b.sunk[0] ?? Promise.reject(new Error('no SINK stream')),
      'the SINK stream to end',
    )
    expect(received.toString()).toBe(Buffer.concat(messages).toString())
  })

  it('aborts a connection with frames held: both sides end their streams, and the hosts connect again', async () => {
    const [a, b] = await pair()
    const streams = await Promise.all(
      Array.from({ length: 4 }, () => a.node.dialProtocol(b.node.getMultiaddrs(), SINK)),
    )
    const conn = connectionBetween(a.node, b.node)
    const remote = connectionBetween(b.node, a.node)
    const remoteClosed = pEvent(remote, 'close', { signal: AbortSignal.timeout(DEADLINE_MS) })
    for (const stream of streams) {
      stream.send(pattern(200 * 1024, 4))
      for (let i = 0; i < 50; i++) stream.send(Buffer.from(`frame ${i}`))
    }
    conn.abort(new Error('aborted by the test'))
    expect(streams.map((s) => s.status)).toEqual(streams.map(() => 'aborted'))
    await remoteClosed
    // Every stream b accepted ends (reset with the connection); none hangs.
    const ends = await withDeadline(
      Promise.all(
        b.sunk.map((read) =>
          read.then(
            () => 'ended',
            () => 'reset',
          ),
        ),
      ),
      'the remote streams to end after the abort',
    )
    expect(ends.length).toBeGreaterThan(0)
    expect(a.node.getConnections(b.node.peerId)).toHaveLength(0)
    // Nothing is left broken: a fresh connection carries data both ways.
    const big = pattern(256 * 1024, 5)
    expect(await digestOver(a.node, b.node, big)).toBe(sha256(big))
    expect(await digestOver(b.node, a.node, big)).toBe(sha256(big))
  })
  it('bounds what a secured connection may queue while its socket does not drain', async () => {
    const secured: MessageStream[] = []
    const muxers = horusYamux()
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [corkedTcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [
        () => {
          const factory = muxers()
          const create = factory.createStreamMuxer.bind(factory)
          factory.createStreamMuxer = (connection) => {
            secured.push(connection)
            return create(connection)
          }
          return factory
        },
      ],
    })
    hosts.push({ node, sealed: () => 0, sunk: [] })
    const other = await startHost()
    hosts.push(other)
    await node.dial(other.node.getMultiaddrs(), { signal: AbortSignal.timeout(DEADLINE_MS) })
    expect(secured.map((connection) => connection.maxWriteBufferLength)).toEqual([
      MAX_CONNECTION_WRITE_BUFFER_BYTES,
    ])
  })
})
