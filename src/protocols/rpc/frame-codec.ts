/**
 * Framing on a session stream: each JSON-RPC message is an unsigned-varint (LEB128) byte length
 * followed by that many bytes of UTF-8 JSON — the same prefix libp2p's `it-length-prefixed` uses.
 * The decoder is push-based so it runs inside the stream's `message` listener without an await
 * per frame, and it checks the prefix against the limit before buffering any of the body. A
 * server's decoder skips a frame over the limit (up to `frameSkipBound`), dropping its body as it
 * arrives, so one oversized request costs neither memory nor the stream it shares.
 */
import { DEFAULT_MAX_FRAME_BYTES, OVERSIZED_FRAME_SKIP_FACTOR } from './constants.js'
import { FrameTooLargeError } from './errors.js'

/** A 32-bit length never needs more than 5 varint bytes; more is a malformed or hostile prefix. */
const MAX_PREFIX_BYTES = 5

/**
 * The longest announced frame a server skips (answering it and serving on) rather than resetting
 * the stream for: OVERSIZED_FRAME_SKIP_FACTOR times its limit, and never less than what a client
 * with the default limit may send.
 */
export function frameSkipBound(maxFrameBytes: number): number {
  return Math.max(maxFrameBytes * OVERSIZED_FRAME_SKIP_FACTOR, DEFAULT_MAX_FRAME_BYTES)
}

export function varintLength(value: number): number {
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

/** The body's length in an encoded frame (the frame less its varint prefix); limits apply to it. */
export function frameBodyLength(frame: Uint8Array): number {
  let prefix = 1
  while (prefix < frame.byteLength && ((frame[prefix - 1] as number) & 0x80) !== 0) prefix++
  return frame.byteLength - prefix
}

/**
 * Encode a prefix and body in one buffer, so each frame is a single `send()`. A text body is
 * measured and written straight into that buffer (no intermediate UTF-8 copy): every message of
 * every process goes through here.
 */
export function encodeFrame(body: string | Uint8Array): Uint8Array {
  const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength
  const prefix = varintLength(length)
  // Every byte is written below, so the buffer need not be zeroed (small ones come from Node's pool).
  const out = Buffer.allocUnsafe(prefix + length)
  let value = length
  let i = 0
  while (value >= 0x80) {
    out[i++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  out[i] = value
  if (typeof body === 'string') out.write(body, prefix, length, 'utf8')
  else out.set(body, prefix)
  return out
}

/** Frames announced longer than the limit but at most `maxBytes` are skipped instead of thrown for. */
export interface FrameSkipping {
  /** The longest announced length skipped; anything longer (or a malformed prefix) throws. */
  maxBytes: number
  /**
   * Called in stream order as soon as a skipped frame's prefix is read (its body is then dropped
   * as it arrives); the error names the announced size and the limit in `data`.
   */
  onSkip(error: FrameTooLargeError): void
}

export class FrameDecoder {
  readonly maxFrameBytes: number
  private readonly skipping: FrameSkipping | undefined
  /** The longest length a prefix may announce without throwing. */
  private readonly maxAnnounced: number
  private parts: Uint8Array[] = []
  private size = 0
  private need: number | undefined
  /** Body bytes of a skipped frame still to be dropped as they arrive. */
  private discard = 0

  constructor(maxFrameBytes: number, skipping?: FrameSkipping) {
    if (skipping !== undefined && !(skipping.maxBytes >= maxFrameBytes)) {
      throw new RangeError(
        `skipping.maxBytes: expected at least maxFrameBytes (${maxFrameBytes}), got ${skipping.maxBytes}`,
      )
    }
    this.maxFrameBytes = maxFrameBytes
    this.skipping = skipping
    this.maxAnnounced = skipping?.maxBytes ?? maxFrameBytes
  }

  /** Bytes held for a frame not yet complete (never the body of a skipped frame). */
  get bufferedBytes(): number {
    return this.size
  }

  /**
   * Add received bytes and yield every frame they complete; a frame over the limit but within
   * `skipping.maxBytes` is reported to `skipping.onSkip` and its body dropped, unbuffered.
   * @throws FrameTooLargeError when a prefix exceeds what may be skipped, or is malformed; the
   *   decoder is then unusable.
   */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    if (chunk.byteLength === 0) return
    this.parts.push(chunk)
    this.size += chunk.byteLength
    while (true) {
      if (this.discard > 0 && !this.dropSkipped()) return
      if (this.need === undefined) {
        const length = this.readPrefix()
        if (length === undefined) return
        if (length > this.maxFrameBytes) {
          this.skip(length)
          continue
        }
        this.need = length
      }
      if (this.size < this.need) return
      const frame = this.take(this.need)
      this.need = undefined
      yield frame
    }
  }

  private skip(length: number): void {
    this.discard = length
    this.skipping?.onSkip(
      new FrameTooLargeError(
        `frame of ${length} bytes exceeds the ${this.maxFrameBytes}-byte limit; skipped`,
        {
          data: { bytes: length, maxFrameBytes: this.maxFrameBytes },
        },
      ),
    )
  }

  /** Drop what has arrived of a skipped frame's body; true once all of it is gone. */
  private dropSkipped(): boolean {
    while (this.discard > 0) {
      const part = this.parts[0]
      if (part === undefined) return false
      const n = Math.min(part.byteLength, this.discard)
      this.consumeFirst(part, n)
      this.discard -= n
    }
    return true
  }

  private readPrefix(): number | undefined {
    let value = 0
    let scale = 1
    let index = 0
    for (const part of this.parts) {
      for (let i = 0; i < part.byteLength; i++) {
        const byte = part[i] as number
        value += (byte & 0x7f) * scale
        index++
        if ((byte & 0x80) === 0) {
          if (value > this.maxAnnounced) throw this.refuse(`${value} bytes`, value)
          this.take(index)
          return value
        }
        if (index >= MAX_PREFIX_BYTES) throw this.refuse('a malformed length', undefined)
        scale *= 128
      }
    }
    // An incomplete prefix can already prove itself too large.
    if (value > this.maxAnnounced) throw this.refuse(`at least ${value} bytes`, undefined)
    return undefined
  }

  /** The error for a prefix this decoder cannot go past; `bytes` only when the length is whole. */
  private refuse(size: string, bytes: number | undefined): FrameTooLargeError {
    const limit = `the ${this.maxFrameBytes}-byte limit`
    const beyond =
      this.skipping === undefined
        ? limit
        : `${limit} by more than can be skipped (${this.maxAnnounced} bytes)`
    const data = bytes === undefined ? {} : { bytes }
    return new FrameTooLargeError(`frame of ${size} exceeds ${beyond}`, {
      data: { ...data, maxFrameBytes: this.maxFrameBytes },
    })
  }

  private take(n: number): Uint8Array {
    const first = this.parts[0]
    if (first !== undefined && first.byteLength >= n) {
      this.consumeFirst(first, n)
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let offset = 0
    while (offset < n) {
      const part = this.parts[0] as Uint8Array
      const count = Math.min(part.byteLength, n - offset)
      out.set(part.subarray(0, count), offset)
      offset += count
      this.consumeFirst(part, count)
    }
    return out
  }

  private consumeFirst(part: Uint8Array, n: number): void {
    this.size -= n
    if (n === part.byteLength) this.parts.shift()
    else this.parts[0] = part.subarray(n)
  }
}
