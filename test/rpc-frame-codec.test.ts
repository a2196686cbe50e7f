import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { frameBodyLength } from '../src/protocols/rpc/frame-codec.js'
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FrameDecoder,
  FrameTooLargeError,
  frameSkipBound,
} from '../src/protocols/rpc/index.js'

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}

/** Split `bytes` at the given cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let last = 0
  for (const p of [...points, bytes.byteLength]) {
    out.push(bytes.subarray(last, p))
    last = p
  }
  return out
}

describe('varint length-prefixed frames', () => {
  it('measures the body of an encoded frame, its prefix not counted, across prefix widths', () => {
    for (const length of [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
      expect(frameBodyLength(encodeFrame(new Uint8Array(length)))).toBe(length)
    }
  })

  it('decodes what it encodes, however the bytes are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (bodies, cuts) => {
          const bytes = concat(bodies.map((b) => encodeFrame(b)))
          const decoder = new FrameDecoder(10_000)
          const decoded: string[] = []
          for (const chunk of split(bytes, cuts)) {
            for (const frame of decoder.push(chunk)) decoded.push(new TextDecoder().decode(frame))
          }
          expect(decoded).toEqual(bodies)
          expect(decoder.bufferedBytes).toBe(0)
        },
      ),
    )
  })

  it('carries a text body as exactly its UTF-8 bytes: multi-byte characters, and lone surrogates as TextEncoder writes them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (body) => {
        const utf8 = new TextEncoder().encode(body)
        const frame = encodeFrame(body)
        const prefix = frame.byteLength - utf8.byteLength
        expect(frame.subarray(0, prefix)).toEqual(
          encodeFrame(new Uint8Array(utf8.byteLength)).subarray(0, prefix),
        )
        expect([...frame.subarray(prefix)]).toEqual([...utf8])
      }),
    )
    // 200 two-byte characters: 400 bytes, a two-byte prefix.
    expect([...encodeFrame('é'.repeat(200)).subarray(0, 2)]).toEqual([0x90, 0x03])
  })

  it('uses the same prefix as it-length-prefixed (unsigned LEB128)', () => {
    expect([...encodeFrame(new Uint8Array(300)).subarray(0, 2)]).toEqual([0xac, 0x02])
    expect([...encodeFrame('')]).toEqual([0])
  })

  it('refuses a prefix over the limit before buffering the body, even one byte at a time', () => {
    const decoder = new FrameDecoder(100)
    const prefix = encodeFrame(new Uint8Array(101)).subarray(0, 1)
    expect(() => [...decoder.push(prefix)]).toThrow(FrameTooLargeError)
    const slow = new FrameDecoder(100)
    // 2^35 announced one byte at a time: refused as soon as the partial value exceeds the limit.
    const bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]
    let thrown: unknown
    for (const b of bytes) {
      try {
        ;[...slow.push(new Uint8Array([b]))]
      } catch (err) {
        thrown = err
        break
      }
    }
    expect(thrown).toBeInstanceOf(FrameTooLargeError)
    expect((thrown as FrameTooLargeError).data.maxFrameBytes).toBe(100)
  })

  it('names the announced size and the limit when it refuses', () => {
    expect(() => [...new FrameDecoder(100).push(encodeFrame(new Uint8Array(101)).subarray(0, 2))]).toThrow(
      'frame of 101 bytes exceeds the 100-byte limit',
    )
  })
})

describe('skipping frames over the limit', () => {
  const LIMIT = 64
  const SKIP_UP_TO = 1000

  type Event = ['frame', string] | ['skipped', number]

  function skippingDecoder(events: Event[]): FrameDecoder {
    return new FrameDecoder(LIMIT, {
      maxBytes: SKIP_UP_TO,
      onSkip: (err) => {
        expect(err).toBeInstanceOf(FrameTooLargeError)
        expect(err.data.maxFrameBytes).toBe(LIMIT)
        events.push(['skipped', err.data.bytes as number])
      },
    })
  }

  /** A body of `n` bytes that would break the stream's framing if it were read as frames. */
  function hostileBody(n: number): Uint8Array {
    return new Uint8Array(n).fill(0xff)
  }

  it('drops the body of every oversized frame unbuffered and yields the frames around it in order, however the bytes are chunked', () => {
    const frame = fc.oneof(
      fc.string({ maxLength: LIMIT }).filter((s) => Buffer.byteLength(s) <= LIMIT),
      fc.integer({ min: LIMIT + 1, max: SKIP_UP_TO }),
    )
    // Cuts drawn densely enough that many chunks are a byte or two, some split inside a prefix.
    const cuts = fc.array(fc.nat(), { maxLength: 400 })
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 12 }), cuts, (frames, at) => {
        const expected: Event[] = frames.map((f) => (typeof f === 'string' ? ['frame', f] : ['skipped', f]))
        const bytes = concat(frames.map((f) => encodeFrame(typeof f === 'string' ? f : hostileBody(f))))
        const events: Event[] = []
        const decoder = skippingDecoder(events)
        for (const chunk of split(bytes, at)) {
          for (const f of decoder.push(chunk)) events.push(['frame', new TextDecoder().decode(f)])
          // At most one unfinished frame is held, and never a skipped body: limit + its prefix.
          expect(decoder.bufferedBytes).toBeLessThan(LIMIT + 2)
        }
        expect(events).toEqual(expected)
        expect(decoder.bufferedBytes).toBe(0)
      }),
    )
  })

  it('reports a skipped frame as soon as its prefix is read, before its body arrives', () => {
    const events: Event[] = []
    const decoder = skippingDecoder(events)
    const frame = encodeFrame(hostileBody(SKIP_UP_TO))
    expect([...decoder.push(frame.subarray(0, 2))]).toEqual([])
    expect(events).toEqual([['skipped', SKIP_UP_TO]])
    for (let i = 2; i < frame.byteLength; i++) expect([...decoder.push(frame.subarray(i, i + 1))]).toEqual([])
    expect(decoder.bufferedBytes).toBe(0)
    expect([...decoder.push(encodeFrame('after'))].map((f) => new TextDecoder().decode(f))).toEqual(['after'])
  })

  it('still throws, at once and unbuffered, for a prefix beyond what it skips or a malformed one', () => {
    const beyond = (bytes: number[]): unknown => {
      const decoder = skippingDecoder([])
      for (const b of bytes) {
        try {
          ;[...decoder.push(new Uint8Array([b]))]
        } catch (err) {
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(5)
          return err
        }
      }
      return undefined
    }
    const justOver = beyond([...encodeFrame(new Uint8Array(SKIP_UP_TO + 1)).subarray(0, 2)])
    expect(justOver).toBeInstanceOf(FrameTooLargeError)
    expect((justOver as FrameTooLargeError).message).toBe(
      `frame of ${SKIP_UP_TO + 1} bytes exceeds the ${LIMIT}-byte limit by more than can be skipped (${SKIP_UP_TO} bytes)`,
    )
    expect((justOver as FrameTooLargeError).data).toMatchObject({
      bytes: SKIP_UP_TO + 1,
      maxFrameBytes: LIMIT,
    })
    // A prefix announced a byte at a time is refused on its partial value, never named as whole.
    const huge = beyond([0xff, 0xff, 0xff, 0xff, 0x0f])
    expect(huge).toBeInstanceOf(FrameTooLargeError)
    expect((huge as FrameTooLargeError).message).toMatch(/^frame of at least 16383 bytes exceeds/)
    expect((huge as FrameTooLargeError).data.bytes).toBeUndefined()
    const malformed = beyond([0x81, 0x80, 0x80, 0x80, 0x80, 0x00])
    expect((malformed as FrameTooLargeError).message).toMatch(/^frame of a malformed length exceeds/)
  })

  it('rejects a skip bound under the limit, and bounds a server at 4× its limit or the default limit', () => {
    expect(() => new FrameDecoder(100, { maxBytes: 99, onSkip: () => {} })).toThrow(
      'skipping.maxBytes: expected at least maxFrameBytes (100), got 99',
    )
    expect(frameSkipBound(4096)).toBe(DEFAULT_MAX_FRAME_BYTES)
    expect(frameSkipBound(DEFAULT_MAX_FRAME_BYTES)).toBe(4 * DEFAULT_MAX_FRAME_BYTES)
  })
})
