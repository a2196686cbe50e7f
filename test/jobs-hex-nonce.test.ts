import { createHash, randomBytes } from 'node:crypto'
import { toString as uint8ToString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../src/protocols/jobs/canonical.js'
import { createJob, generateSigner, jobDigest, unsignedJob } from '../src/protocols/jobs/index.js'
import { fromHex, toHex } from '../src/protocols/jobs/keys.js'
import { NONCE_BYTES, randomHex } from '../src/protocols/jobs/random-hex.js'

describe('hex codec (native)', () => {
  it('round-trips and matches the base16 codec it replaced, views included', () => {
    const backing = randomBytes(200)
    for (const bytes of [new Uint8Array(0), randomBytes(32), randomBytes(64), backing.subarray(7, 71)]) {
      const hex = toHex(bytes)
      expect(hex).toBe(uint8ToString(bytes, 'base16'))
      const back = fromHex(hex)
      expect(back).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true)
    }
  })

  it('returns bytes of their own, not a view of a shared pool', () => {
    const bytes = fromHex('ab'.repeat(32))
    expect(bytes.byteLength).toBe(32)
    expect(bytes.buffer.byteLength).toBe(32)
  })

  it.each([
    ['odd length', 'abc'],
    ['a non-hex pair in the middle', 'ab0gcd'],
    ['upper case', 'ABCD'],
    ['whitespace', 'ab cd'],
  ])('throws a SyntaxError for %s (Buffer alone would stop quietly)', (_what, hex) => {
    expect(() => fromHex(hex)).toThrow(SyntaxError)
  })
})

describe('pooled nonces', () => {
  it('hands out lower-case hex of the asked length, never the same bytes twice across refills', () => {
    const seen = new Set<string>()
    // 4096-byte pool / 16 bytes: 256 per fill; 2,000 crosses several refills.
    for (let i = 0; i < 2_000; i++) {
      const hex = randomHex(NONCE_BYTES)
      expect(hex).toMatch(/^[0-9a-f]{32}$/)
      seen.add(hex)
    }
    expect(seen.size).toBe(2_000)
  })

  it('refuses sizes the pool cannot serve', () => {
    expect(() => randomHex(0)).toThrow(RangeError)
    expect(() => randomHex(4097)).toThrow(RangeError)
    expect(() => randomHex(1.5)).toThrow(RangeError)
  })

  it('gives each created job its own nonce in the envelope schema', () => {
    const signer = generateSigner()
    const nonces = new Set(Array.from({ length: 300 }, () => createJob({ runner: 'noop' }, signer).nonce))
    expect(nonces.size).toBe(300)
  })
})

describe('job digest (one-shot SHA-256)', () => {
  it('is SHA-256 of the canonical unsigned envelope', () => {
    const job = createJob({ runner: 'noop', input: {}, env: {} }, generateSigner())
    const expected = createHash('sha256')
      .update(canonicalJson(unsignedJob(job)))
      .digest('hex')
    expect(jobDigest(job)).toBe(expected)
    // A copy (no remembered digest) computes the same.
    expect(jobDigest(structuredClone(job))).toBe(expected)
  })

  it('clones an empty input as {} but still refuses what has no canonical form', () => {
    const job = createJob({ runner: 'noop', input: {}, env: {} }, generateSigner())
    expect(job.input).toEqual({})
    expect(job.env).toEqual({})
    // A hidden toJSON is not an empty object: it goes through canonical JSON.
    const hidden = Object.defineProperty({}, 'toJSON', { value: () => ({ a: 1 }), enumerable: false })
    expect(createJob({ runner: 'noop', input: hidden }, generateSigner()).input).toEqual({ a: 1 })
    expect(() => createJob({ runner: 'noop', input: { n: Number.NaN } }, generateSigner())).toThrow(
      /job\.input/,
    )
  })
})
