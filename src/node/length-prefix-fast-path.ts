/**
 * Every frame a node receives over noise goes through `LengthPrefixedDecoder` (`@libp2p/utils`),
 * which reads the next length prefix in a loop until the buffer runs dry, and learns that it did
 * from the length decoder throwing a fresh `RangeError`: once per TCP chunk received, each throw
 * capturing a stack trace. In a CPU profile of 20 idle nodes that was 7–11 % of all busy time (the
 * same pattern lodestar measured in mplex, ChainSafe/lodestar#3467).
 *
 * This wraps each decoder's length decoder so an empty buffer throws one preallocated `RangeError`
 * (no stack captured) instead; the decoder's loop catches it exactly as before. Nothing else
 * changes: a buffer holding part of a prefix still goes to the real decoder. It is guarded so a
 * future `@libp2p/utils` that renames the field or stops throwing is left alone.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'

type Decode = LengthPrefixedDecoder['decode']
type LengthDecoder = (data: Parameters<Decode>[0]) => number

interface DecoderInternals {
  lengthDecoder?: LengthDecoder
}

/** Marks the prototype as patched (once per process, whoever imports this first). */
const FAST = Symbol.for('horus.lengthPrefixFastPath')
/** The decoders whose length decoder is wrapped already. */
const wrapped = new WeakSet<object>()
/** Thrown when the buffer is empty; the decoder's loop treats any RangeError as "wait for more". */
const EMPTY = new RangeError('length prefix: no bytes buffered')

const proto = LengthPrefixedDecoder.prototype as unknown as {
  decode: (this: DecoderInternals, buf: Parameters<Decode>[0]) => ReturnType<Decode>
  [FAST]?: true
}

if (proto[FAST] !== true) {
  const decode = proto.decode
  proto.decode = function (this: DecoderInternals, buf) {
    if (!wrapped.has(this) && typeof this.lengthDecoder === 'function') {
      const inner = this.lengthDecoder
      this.lengthDecoder = (data) => {
        if (data.byteLength === 0) throw EMPTY
        return inner(data)
      }
      wrapped.add(this)
    }
    return decode.call(this, buf)
  }
  proto[FAST] = true
}
