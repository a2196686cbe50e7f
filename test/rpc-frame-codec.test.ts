import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { frameBodyLength } from '../src/protocols/rpc/frame-codec.js'
import { encodeFrame, FrameDecoder, FrameTooLargeError } from '../src/protocols/rpc/index.js'

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
})
