/**
 * Serves and fetches blobs over `/horus/blob/1.0.0` (wire.ts). Both sides treat the other as
 * untrusted: the server answers only peers `authorize` admits (the node's trusted coordinators
 * and runners) and only so many at once; the fetcher refuses a blob larger than the store's limit
 * before reading any of it, accepts no byte past the announced size, and keeps only bytes that
 * hash to the digest it asked for. Transfers are streamed to and from disk with flow control
 * (the stream is paused while the disk catches up), so memory stays bounded whatever the size;
 * an interrupted fetch resumes from the bytes already received.
 */
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { BlobStore, StoredBlob } from './blob-store.js'
import {
  BLOB_PROTOCOL,
  DEFAULT_MAX_FETCHING,
  DEFAULT_MAX_SERVING,
  DEFAULT_STALL_TIMEOUT_MS,
  MAX_CONTROL_FRAME_BYTES,
} from './constants.js'
import {
  BlobAccessDeniedError,
  BlobNotFoundError,
  BlobProtocolError,
  BlobServerBusyError,
  BlobTooLargeError,
  BlobUnavailableError,
  REMOTE_BLOB_ERRORS,
} from './errors.js'
import type { BlobRef } from './ref.js'
import { type BlobHeader, decodeHeader, decodeRequest, encodeFrame } from './wire.js'

/** The parts of libp2p the service uses. */
export interface BlobServiceComponents {
  readonly libp2p: {
    readonly peerId: PeerId
    handle(
      protocol: string,
      handler: (stream: Stream, connection: Connection) => void,
      options?: { maxInboundStreams?: number },
    ): Promise<void>
    unhandle(protocol: string): Promise<void>
    dialProtocol(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
  }
  readonly logger: ComponentLogger
}

export interface BlobServiceInit {
  readonly store: BlobStore
  /** Whether a peer may fetch blobs from this node. */
  authorize(peer: string): boolean
  /** @default DEFAULT_MAX_SERVING (8) */
  readonly maxServing?: number
  /** @default DEFAULT_MAX_FETCHING (4) */
  readonly maxFetching?: number
  /** @default DEFAULT_STALL_TIMEOUT_MS (30 s) */
  readonly stallTimeoutMs?: number
}

export interface FetchOptions {
  /** Peers to ask, in order. */
  readonly sources: readonly string[]
  /** The size the reference announces; a peer announcing another is refused. */
  readonly size?: number
  readonly signal?: AbortSignal
}

export interface BlobStats {
  served: number
  servedBytes: number
  refused: number
  fetched: number
  fetchedBytes: number
}

/** Bytes queued from the network before the stream is paused, and when it resumes. */
const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024

export class BlobService implements Startable {
  readonly store: BlobStore
  readonly stats: BlobStats = { served: 0, servedBytes: 0, refused: 0, fetched: 0, fetchedBytes: 0 }
  readonly #components: BlobServiceComponents
  readonly #init: BlobServiceInit
  readonly #log: Logger
  readonly #fetching = new Map<string, Promise<StoredBlob>>()
  readonly #slots: Semaphore
  #shutdown = new AbortController()
  #serving = 0
  #started = false

  constructor(components: BlobServiceComponents, init: BlobServiceInit) {
    this.#components = components
    this.#init = init
    this.store = init.store
    this.#log = components.logger.forComponent('horus:blob')
    this.#slots = new Semaphore(init.maxFetching ?? DEFAULT_MAX_FETCHING)
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#shutdown = new AbortController()
    await this.store.start()
    // A few streams beyond the serving limit, so callers past it hear "busy" instead of a reset.
    await this.#components.libp2p.handle(BLOB_PROTOCOL, this.#onStream, {
      maxInboundStreams: (this.#init.maxServing ?? DEFAULT_MAX_SERVING) + 4,
    })
    this.#started = true
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#shutdown.abort(new Error('blob service stopping'))
    await this.#components.libp2p.unhandle(BLOB_PROTOCOL)
    await Promise.allSettled([...this.#fetching.values()])
  }

  /** Makes a referenced blob local (fetching it if needed); resolves with it once verified. */
  ensure(
    ref: BlobRef,
    options: { sources?: readonly string[]; signal?: AbortSignal } = {},
  ): Promise<StoredBlob> {
    return this.fetch(ref.$blob, {
      sources: [...(options.sources ?? []), ...(ref.sources ?? [])],
      size: ref.size,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
  }

  /** The blob, from this store or from the first source that delivers it intact. */
  async fetch(digest: string, options: FetchOptions): Promise<StoredBlob> {
    const size = await this.store.size(digest)
    if (size !== undefined) return { digest, size }
    let pending = this.#fetching.get(digest)
    if (pending === undefined) {
      pending = this.#fetchFromSources(digest, options).finally(() => this.#fetching.delete(digest))
      this.#fetching.set(digest, pending)
    }
    return pending
  }

  async #fetchFromSources(digest: string, options: FetchOptions): Promise<StoredBlob> {
    const self = this.#components.libp2p.peerId.toString()
    const sources = [...new Set(options.sources)].filter((peer) => peer !== self)
    const reasons: string[] = []
    const release = await this.#slots.acquire(this.#signal(options.signal))
    try {
      for (const peer of sources) {
        try {
          const stored = await this.#fetchFrom(peer, digest, options)
          this.stats.fetched++
          return stored
        } catch (err) {
          if (options.signal?.aborted === true || this.#shutdown.signal.aborted) throw err
          reasons.push(`${peer}: ${(err as Error).message}`)
          this.#log('fetching blob %s from %s failed: %s', digest, peer, (err as Error).message)
          // A refusal of size is the same whichever peer answers.
          if (err instanceof BlobTooLargeError) break
        }
      }
    } finally {
      release()
    }
    throw new BlobUnavailableError(digest, reasons)
  }

  async #fetchFrom(peer: string, digest: string, options: FetchOptions): Promise<StoredBlob> {
    const stall = this.#init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
    const partial = await this.store.partial(digest)
    let stream: Stream | undefined
    try {
      stream = await this.#components.libp2p.dialProtocol(peerIdFromString(peer), BLOB_PROTOCOL, {
        signal: this.#signal(options.signal, stall),
      })
      const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_FRAME_BYTES })
      await lp.write(encodeFrame({ digest, offset: partial.offset }), {
        signal: this.#signal(options.signal, stall),
      })
      const header = decodeHeader((await lp.read({ signal: this.#signal(options.signal, stall) })).subarray())
      const size = checkHeader(header, digest, partial.offset, this.store.maxBytes, options.size)
      const raw = lp.unwrap()
      await receive(raw, size - partial.offset, (chunk) => partial.write(chunk), {
        stallMs: stall,
        signal: this.#signal(options.signal),
      })
      await raw.close().catch(() => {})
      const stored = await partial.finish(size)
      this.stats.fetchedBytes += size - partial.offset
      return stored
    } catch (err) {
      await partial.close().catch(() => {})
      stream?.abort(err as Error)
      throw err
    }
  }

  readonly #onStream = (stream: Stream, connection: Connection): void => {
    this.#serve(stream, connection.remotePeer.toString()).catch((err: Error) => {
      this.#log('serving a blob to %s failed: %s', connection.remotePeer.toString(), err.message)
      stream.abort(err)
    })
  }

  async #serve(stream: Stream, peer: string): Promise<void> {
    const stall = this.#init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
    const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_FRAME_BYTES })
    const request = decodeRequest((await lp.read({ signal: this.#signal(undefined, stall) })).subarray())
    const refuse = async (error: Error): Promise<void> => {
      this.stats.refused++
      await lp.write(encodeFrame({ ok: false, error: { name: error.name, message: error.message } }))
      await stream.close()
    }
    if (!this.#init.authorize(peer))
      return refuse(new BlobAccessDeniedError(`peer ${peer} is not a coordinator or runner this node trusts`))
    if (this.#serving >= (this.#init.maxServing ?? DEFAULT_MAX_SERVING))
      return refuse(new BlobServerBusyError())
    const size = await this.store.size(request.digest)
    if (size === undefined) return refuse(BlobNotFoundError.of(request.digest))
    this.#serving++
    try {
      await lp.write(encodeFrame({ ok: true, size }))
      const raw = lp.unwrap()
      const offset = Math.min(request.offset, size)
      for await (const chunk of this.store.read(request.digest, offset)) {
        if (!raw.send(chunk as Uint8Array)) await raw.onDrain({ signal: this.#signal(undefined, stall) })
        this.stats.servedBytes += (chunk as Uint8Array).byteLength
      }
      await raw.close({ signal: this.#signal(undefined, stall) })
      this.stats.served++
    } finally {
      this.#serving--
    }
  }

  #signal(caller?: AbortSignal, timeoutMs?: number): AbortSignal {
    const signals = [this.#shutdown.signal]
    if (caller !== undefined) signals.push(caller)
    if (timeoutMs !== undefined) signals.push(AbortSignal.timeout(timeoutMs))
    return AbortSignal.any(signals)
  }
}

/** The size to expect, or the error the header (or its size) calls for. */
function checkHeader(
  header: BlobHeader,
  digest: string,
  offset: number,
  maxBytes: number,
  announced: number | undefined,
): number {
  if (!header.ok) {
    const rebuild = REMOTE_BLOB_ERRORS[header.error.name]
    throw rebuild === undefined
      ? new BlobProtocolError(`${header.error.name}: ${header.error.message}`)
      : rebuild(header.error.message)
  }
  if (header.size > maxBytes) throw BlobTooLargeError.of(header.size, maxBytes)
  if (announced !== undefined && header.size !== announced)
    throw new BlobProtocolError(
      `blob ${digest}: the peer announces ${header.size} bytes, the reference ${announced}`,
    )
  if (offset > header.size)
    throw new BlobProtocolError(`blob ${digest}: ${offset} bytes held locally, the peer has ${header.size}`)
  return header.size
}

/**
 * Reads exactly `expected` raw bytes, handing each chunk to `write` in order; pauses the stream
 * while more than HIGH_WATER bytes wait for the disk. Fails on a stall, on more bytes than
 * expected, and on an end before all arrived.
 */
function receive(
  stream: Stream,
  expected: number,
  write: (chunk: Uint8Array) => Promise<void>,
  options: { stallMs: number; signal: AbortSignal },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const queue: Uint8Array[] = []
    let queued = 0
    let received = 0
    let written = 0
    let writing = false
    let ended = false
    let settled = false
    let stallTimer: NodeJS.Timeout | undefined
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(stallTimer)
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onEnd)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      options.signal.removeEventListener('abort', onAbort)
      if (err === undefined) resolve()
      else reject(err)
    }
    const armStall = (): void => {
      clearTimeout(stallTimer)
      stallTimer = setTimeout(
        () => finish(new BlobProtocolError(`no progress for ${options.stallMs} ms`)),
        options.stallMs,
      )
    }
    const pump = async (): Promise<void> => {
      if (writing) return
      writing = true
      try {
        while (queue.length > 0 && !settled) {
          const chunk = queue.shift() as Uint8Array
          queued -= chunk.byteLength
          await write(chunk)
          written += chunk.byteLength
          if (queued < LOW_WATER && stream.readStatus === 'paused') stream.resume()
        }
      } catch (err) {
        finish(err as Error)
        return
      } finally {
        writing = false
      }
      if (written === expected) finish()
      else if (ended) finish(new BlobProtocolError(`the stream ended after ${received} of ${expected} bytes`))
    }
    const onMessage = (evt: Event): void => {
      const data = (evt as unknown as { data: Uint8Array | Iterable<Uint8Array> }).data
      for (const chunk of data instanceof Uint8Array ? [data] : data) {
        received += chunk.byteLength
        if (received > expected) {
          finish(new BlobProtocolError(`the peer sent more than the ${expected} bytes it announced`))
          return
        }
        queue.push(chunk)
        queued += chunk.byteLength
      }
      if (queued > HIGH_WATER && stream.readStatus === 'readable') stream.pause()
      armStall()
      pump().catch(() => {})
    }
    const onEnd = (): void => {
      ended = true
      pump().catch(() => {})
    }
    const onAbort = (): void => finish(options.signal.reason as Error)
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onEnd)
    stream.addEventListener('remoteCloseWrite', onEnd)
    options.signal.addEventListener('abort', onAbort, { once: true })
    armStall()
    if (expected === 0) finish()
  })
}

/** At most `size` holders at once; the rest wait in order. */
class Semaphore {
  #free: number
  readonly #waiting: Array<() => void> = []

  constructor(size: number) {
    this.#free = size
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.#free > 0) this.#free--
    else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.#waiting.indexOf(wake)
          if (i >= 0) this.#waiting.splice(i, 1)
          reject(signal.reason as Error)
        }
        const wake = (): void => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
        this.#waiting.push(wake)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#free++
    }
  }
}
