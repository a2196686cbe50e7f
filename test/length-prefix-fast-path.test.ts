import { LengthPrefixedDecoder } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import '../src/node/length-prefix-fast-path.js'

let emptyCalls = 0

/** noise's framing: a 2-byte big-endian length, then the frame. */
function uint16BE(data: {
  byteLength: number
  subarray?: unknown
  getUint16?: (i: number) => number
}): number {
  if (data.byteLength === 0) emptyCalls++
  if (data.byteLength < 2) throw new RangeError('Could not decode int16BE')
  if (data instanceof Uint8Array) return ((data[0] as number) << 8) + (data[1] as number)
  return (data as { getUint16: (i: number) => number }).getUint16(0)
}

function frame(bytes: number[]): number[] {
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes]
}

describe('length-prefix fast path (noise frame decoder)', () => {
  it('yields the same frames whatever the chunking: whole, split in the prefix, split in the body, empty', () => {
    const frames = [[1, 2, 3], [], [4], Array.from({ length: 300 }, (_, i) => i & 0xff), [5, 6]]
    const wire = frames.flatMap(frame)
    // Every split point of the stream into two chunks, and byte by byte.
    const chunkings = [
      ...Array.from({ length: wire.length + 1 }, (_, at) => [wire.slice(0, at), wire.slice(at)]),
      wire.map((b) => [b]),
    ]
    for (const chunks of chunkings) {
      const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16BE, encodingLength: () => 2 })
      const out: number[][] = []
      for (const chunk of chunks)
        for (const buf of decoder.decode(Uint8Array.from(chunk))) out.push([...buf.subarray()])
      // Empty frames are not yielded (as before the fast path).
      expect(out).toEqual(frames.filter((f) => f.length > 0))
    }
    // The drained buffer after each chunk is answered by the fast path, never by a thrown-and-built
    // RangeError from the length decoder.
    expect(emptyCalls).toBe(0)
  })

  it('still rejects a frame longer than the maximum', () => {
    const decoder = new LengthPrefixedDecoder({
      lengthDecoder: uint16BE,
      encodingLength: () => 2,
      maxDataLength: 4,
    })
    expect(() => [...decoder.decode(Uint8Array.from(frame([1, 2, 3, 4, 5])))]).toThrow(
      /Invalid message length/,
    )
  })
})
