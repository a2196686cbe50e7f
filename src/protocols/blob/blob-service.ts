/**
 * Serves and fetches blobs over `/horus/blob/1.0.0` (wire.ts). Both sides treat the other as
 * untrusted: the server answers only peers `authorize` admits (the node's trusted coordinators
 * and runners) and only so many at once; the fetcher asks only sources `authorize` admits too
 * (whoever named them: a reference's sources are hints, never believed), refuses a blob larger than the store's limit
 * before reading any of it, accepts no byte past the announced size, and keeps only bytes that
 * hash to the digest it asked for. Transfers are streamed to and from disk a window at a time
 * (the fetcher asks for the next 4 MiB once the last are on disk), so memory stays bounded
 * whatever the size; an interrupted fetch resumes from the bytes already received.
 */
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { withSignals } from '../../core/bounded-call.js'
import type { BlobStore, StoredBlob } from './blob-store.js'
import {
  BLOB_CHUNK_BYTES,
  BLOB_PROTOCOL,
  BLOB_WINDOW_BYTES,
  DEFAULT_GC_INTERVAL_MS,
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
  /** Whether a peer may fetch blobs from this node, and be asked for blobs by it. */
  authorize(peer: string): boolean
  /** @default DEFAULT_MAX_SERVING (8) */
  readonly maxServing?: number
  /** @default DEFAULT_MAX_FETCHING (4) */
  readonly maxFetching?: number
  /** @default DEFAULT_STALL_TIMEOUT_MS (30 s) */
  readonly stallTimeoutMs?: number
  /** Period of the store's `gc` (first one a period after start); 0 never. @default DEFAULT_GC_INTERVAL_MS */
  readonly gcIntervalMs?: number
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
  #gcTimer: NodeJS.Timeout | undefined
  #collecting: Promise<void> | undefined

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
    const every = this.#init.gcIntervalMs ?? DEFAULT_GC_INTERVAL_MS
    if (every > 0) {
      this.#gcTimer = setInterval(() => void this.collect(), every)
      this.#gcTimer.unref()
    }
  }

  /** Deletes the blobs nobody holds (expired holds first); one collection at a time. */
  collect(): Promise<void> {
    this.#collecting ??= this.store
      .gc()
      .then(
        ({ deleted, bytes }) => {
          if (deleted > 0) this.#log('gc: deleted %d blob(s), %d bytes', deleted, bytes)
        },
        (err: unknown) => this.#log.error('gc failed - %e', err),
      )
      .finally(() => {
        this.#collecting = undefined
      })
    return this.#collecting
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#gcTimer)
    this.#shutdown.abort(new Error('blob service stopping'))
    await this.#components.libp2p.unhandle(BLOB_PROTOCOL)
    await Promise.allSettled([...this.#fetching.values(), this.#collecting])
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
    const release = await this.#within(options.signal, undefined, (signal) => this.#slots.acquire(signal))
    try {
      for (const peer of sources) {
        if (!this.#init.authorize(peer)) {
          reasons.push(`${peer}: not a coordinator or runner this node trusts (not asked)`)
          continue
        }
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
    const start = partial.offset
    let stream: Stream | undefined
    try {
      stream = await this.#within(options.signal, stall, (signal) =>
        this.#components.libp2p.dialProtocol(peerIdFromString(peer), BLOB_PROTOCOL, { signal }),
      )
      const lp = lpStream(stream, {
        maxDataLength: Math.max(BLOB_CHUNK_BYTES, MAX_CONTROL_FRAME_BYTES),
        // One window and its framing: what the server sends per request.
        maxBufferSize: BLOB_WINDOW_BYTES + 2 * BLOB_CHUNK_BYTES,
      })
      let offset = start
      let size: number | undefined
      while (size === undefined || offset < size) {
        const header = await this.#within(options.signal, stall, async (signal) => {
          await lp.write(encodeFrame({ digest, offset, length: BLOB_WINDOW_BYTES }), { signal })
          return decodeHeader((await lp.read({ signal })).subarray())
        })
        size = checkHeader(header, digest, offset, this.store.maxBytes, options.size, size)
        const want = Math.min(BLOB_WINDOW_BYTES, size - offset)
        let got = 0
        while (got < want) {
          const chunk = (
            await this.#within(options.signal, stall, (signal) => lp.read({ signal }))
          ).subarray()
          if (chunk.byteLength === 0 || got + chunk.byteLength > want)
            throw new BlobProtocolError(`blob ${digest}: the peer sent more than the ${want} bytes asked for`)
          await partial.write(chunk)
          got += chunk.byteLength
        }
        offset += want
      }
      await stream.close().catch(() => {})
      const stored = await partial.finish(size)
      this.stats.fetchedBytes += size - start
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

  /** Answers requests on one stream until the fetcher closes it. */
  async #serve(stream: Stream, peer: string): Promise<void> {
    const stall = this.#init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
    const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_FRAME_BYTES })
    const refuse = async (error: Error): Promise<void> => {
      this.stats.refused++
      await lp.write(encodeFrame({ ok: false, error: { name: error.name, message: error.message } }))
      await stream.close()
    }
    if (!this.#init.authorize(peer))
      return refuse(new BlobAccessDeniedError(`peer ${peer} is not a coordinator or runner this node trusts`))
    if (this.#serving >= (this.#init.maxServing ?? DEFAULT_MAX_SERVING))
      return refuse(new BlobServerBusyError())
    this.#serving++
    try {
      for (;;) {
        let frame: Uint8Array
        try {
          frame = (await this.#within(undefined, stall, (signal) => lp.read({ signal }))).subarray()
        } catch (err) {
          // The fetcher closed the stream: it has what it wanted.
          if ((err as Error).name === 'UnexpectedEOFError') break
          throw err
        }
        const request = decodeRequest(frame)
        const size = await this.store.size(request.digest)
        if (size === undefined) return refuse(BlobNotFoundError.of(request.digest))
        await lp.write(encodeFrame({ ok: true, size }))
        const offset = Math.min(request.offset, size)
        const length = Math.min(request.length, size - offset)
        if (length === 0) continue
        for await (const chunk of this.store.read(request.digest, offset, length)) {
          await this.#within(undefined, stall, (signal) => lp.write(chunk as Uint8Array, { signal }))
          this.stats.servedBytes += (chunk as Uint8Array).byteLength
        }
      }
      await this.#within(undefined, stall, (signal) => stream.close({ signal })).catch(() => {})
      this.stats.served++
    } finally {
      this.#serving--
    }
  }

  /** Runs one step bounded by the node's shutdown, the caller's signal and a stall timeout. */
  #within<T>(
    caller: AbortSignal | undefined,
    timeoutMs: number | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)
    return withSignals([this.#shutdown.signal, caller, timeout], fn)
  }
}

/** The size to expect, or the error the header (or its size) calls for. */
function checkHeader(
  header: BlobHeader,
  digest: string,
  offset: number,
  maxBytes: number,
  announced: number | undefined,
  earlier: number | undefined,
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
  if (earlier !== undefined && header.size !== earlier)
    throw new BlobProtocolError(`blob ${digest}: the peer announced ${earlier} bytes, now ${header.size}`)
  if (offset > header.size)
    throw new BlobProtocolError(`blob ${digest}: ${offset} bytes held locally, the peer has ${header.size}`)
  return header.size
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
