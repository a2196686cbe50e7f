import type { AbortOptions, MessageStream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * The most plaintext one noise transport message carries: 65,535 bytes less the 16-byte
 * ChaCha20-Poly1305 tag (`@chainsafe/libp2p-noise` splits a larger write at this size).
 */
export const NOISE_MAX_PLAINTEXT = 65_535 - 16

/**
 * Bytes a secured connection queues at most while its socket does not drain; past this libp2p
 * aborts the connection. Far above what paused streams leave queued (their last writes and a few
 * control frames), far below what hurts a node. @default 16 MiB
 */
export const MAX_CONNECTION_WRITE_BUFFER_BYTES = 16 * 1024 * 1024

/** The one write path of @libp2p/utils' `AbstractStreamMuxer` (yamux's every frame goes through it). */
interface FrameWriter {
  send(data: Uint8Array | Uint8ArrayList): boolean
}

/**
 * A muxer factory whose muxers hand the frames of one event-loop turn to the secured connection
 * as one write.
 *
 * Why: yamux writes every frame (a 12-byte header plus its data) to the connection on its own,
 * and noise seals each write as its own message — one ChaCha20-Poly1305 context, one length
 * prefix and one socket write per frame, and one decryption per frame on the other side. A node
 * answering many small RPC calls sends several frames per connection in each turn. Held until
 * the check phase of the loop and written together, they become one noise message (one per
 * 65,519 bytes), sealed once (BENCHMARKS.md, Levers).
 *
 * Why at the muxer and not inside the encrypter: the muxer is the secured connection's only
 * writer once the connection is upgraded, and libp2p's `Connection` closes and aborts the muxer
 * first and then the raw transport connection — never the secured stream between them. The
 * muxer's `close` and `abort` are therefore where held frames (the closing streams' FINs and
 * RSTs, yamux's GoAway) are written before the transport goes away.
 *
 * The other side needs no change: noise messages and yamux frames are independent framings (the
 * yamux decoder reassembles frames across and within the chunks noise decrypts).
 */
export function coalescingMuxers<M extends StreamMuxer>(
  factory: StreamMuxerFactory<M>,
): StreamMuxerFactory<M> {
  const create = factory.createStreamMuxer.bind(factory)
  factory.createStreamMuxer = (connection) => coalesceFrames(create(connection), connection)
  return factory
}

/**
 * Makes `muxer` hold its frames until the check phase of the event loop (like the corked socket
 * did before, so a lone frame leaves no later than it did), then write them to `connection` at
 * once. Held bytes that fill noise messages are written at once, whole messages only: the rest
 * stays held for the next frames, so a bulk transfer of 256 KiB yamux frames is sealed in full
 * 65,519-byte messages rather than four and a 68-byte tail per frame. Everything held is written
 * at once when the connection is already applying back-pressure (it queues the bytes in its own
 * write buffer and sends them together on drain) or is no longer open. `send` reports
 * back-pressure as before: it returns the connection's answer whenever it writes, and while it
 * only holds (less than one noise message) the connection had room at the last write. A muxer
 * without the expected write path is returned as it is.
 */
export function coalesceFrames<M extends StreamMuxer>(muxer: M, connection: MessageStream): M {
  const writer = muxer as M & Partial<FrameWriter>
  const send = writer.send
  if (typeof send !== 'function') return muxer
  // Streams stop writing while the connection is full, but the muxer's own frames do not (pongs,
  // window updates, resets of refused streams): a peer that stops reading and keeps pinging would
  // have them queued without end. Past the bound libp2p aborts the connection.
  connection.maxWriteBufferLength ??= MAX_CONNECTION_WRITE_BUFFER_BYTES
  let held = new Uint8ArrayList()
  let scheduled = false

  /** Writes the first `bytes` held bytes (views, not copies), in order. */
  const write = (bytes: number): boolean => {
    let batch = held
    if (bytes === held.byteLength) {
      held = new Uint8ArrayList()
    } else {
      batch = held.sublist(0, bytes)
      held.consume(bytes)
    }
    // The muxer's own `send`: it tells every stream to pause when the connection is full.
    return send.call(muxer, batch)
  }
  // A write that is not part of a caller's `send` has nobody to throw to. The connection refuses
  // bytes only once it is closing or has failed (noise aborts itself when sealing or writing
  // throws); the streams hear that from the connection's `close` event. A connection still open
  // after a refused write would have lost frames mid-stream, so it is aborted.
  const writeHeld = (): void => {
    const bytes = held.byteLength
    if (bytes === 0) return
    try {
      write(bytes)
    } catch (err) {
      connection.log.trace('dropped %d held bytes: the connection refused them - %e', bytes, err)
      if (connection.status === 'open') connection.abort(err as Error)
    }
  }
  const onCheckPhase = (): void => {
    scheduled = false
    writeHeld()
  }

  writer.send = (data) => {
    held.append(data)
    // A connection that is full or no longer open gets the frames now: it queues them, or throws
    // to the caller exactly as it would without this module.
    if (connection.writableNeedsDrain || connection.status !== 'open') return write(held.byteLength)
    const whole = held.byteLength - (held.byteLength % NOISE_MAX_PLAINTEXT)
    const canSendMore = whole > 0 ? write(whole) : true
    if (held.byteLength > 0 && !scheduled) {
      scheduled = true
      setImmediate(onCheckPhase)
    }
    return canSendMore
  }
  const close = muxer.close.bind(muxer)
  muxer.close = async (options?: AbortOptions) => {
    try {
      await close(options)
    } finally {
      writeHeld()
    }
  }
  const abort = muxer.abort.bind(muxer)
  muxer.abort = (err: Error) => {
    abort(err)
    writeHeld()
  }
  return muxer
}
