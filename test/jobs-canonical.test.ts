import canonicalize from 'canonicalize'
import { describe, expect, it } from 'vitest'
import {
  canonicalBytes,
  canonicalJson,
  createJob,
  createResult,
  generateSigner,
  jobDigest,
  jobSigningBytes,
  NotCanonicalJsonError,
  unsignedJob,
} from '../src/protocols/jobs/index.js'

function fromIeee754(hex: string): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(`0x${hex}`))
  return view.getFloat64(0)
}

describe('RFC 8785 canonical JSON', () => {
  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical serialization.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af6', '1e+23'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555555', '333333333.3333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serializes the number %s as %s', (bits, expected) => {
    expect(canonicalJson(fromIeee754(bits))).toBe(expected)
  })

  it('serializes the section 3.2.2 example (numbers, strings, literals)', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        ' "literals": [null, true, false]}',
    )
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
  })

  it('sorts keys by UTF-16 code units (section 3.2.3)', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        ' "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        ' "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    )
    // Compared as text: JS objects list integer-like keys ("1") first whatever the source order.
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it('encodes as UTF-8 without escaping non-ASCII (section 3.2.4)', () => {
    expect(Buffer.from(canonicalBytes({ a: '€' })).toString('hex')).toBe('7b2261223a22e282ac227d')
  })

  it('refuses values without a canonical form', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(NotCanonicalJsonError)
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(NotCanonicalJsonError)
    expect(() => canonicalJson('\ud800')).toThrow(NotCanonicalJsonError)
    expect(() => canonicalJson(undefined)).toThrow(NotCanonicalJsonError)
  })
})

/** canonicalJson's answer for `value`, or the error it refuses it with; the same for the reference. */
function outcome(fn: () => string): string {
  try {
    return fn()
  } catch (err) {
    return `refused: ${(err as Error).message.replace(/^value has no canonical JSON form: /, '')}`
  }
}

/** A random JSON value; `sorted` objects get their members in canonical order, as a parse of canonical text has. */
function randomValue(rand: () => number, depth: number, sorted: boolean): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 4 : 7))
  const text = (): string =>
    ['', 'a', 'z', 'é', '😀', '\u2028', '"q"', '\\', '1', '10', '9', '-1', '__proto__', 'toJSON'][
      Math.floor(rand() * 14)
    ] as string
  switch (pick) {
    case 0:
      return null
    case 1:
      return rand() < 0.5
    case 2:
      return [0, -0, 1e21, 5e-324, -2.5, 333333333.3333333, 2 ** 53][Math.floor(rand() * 7)]
    case 3:
      return text()
    case 4:
    case 5: {
      const entries = Array.from({ length: Math.floor(rand() * 5) }, () => [
        text(),
        randomValue(rand, depth + 1, sorted),
      ])
      if (sorted) entries.sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1))
      return JSON.parse(JSON.stringify(Object.fromEntries(entries))) as unknown
    }
    default:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1, sorted))
  }
}

describe('canonicalJson on values already in canonical order (the JSON.stringify path)', () => {
  it('writes exactly what canonicalize writes, for random values in and out of order', () => {
    let seed = 12345
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let i = 0; i < 3000; i++) {
      const value = randomValue(rand, 0, i % 2 === 0)
      expect(outcome(() => canonicalJson(value))).toBe(outcome(() => canonicalize(value) as string))
      // Parsed back from its canonical text: the members come in canonical order (integer-like keys aside).
      const reparsed = JSON.parse(canonicalize(value) as string) as unknown
      expect(canonicalJson(reparsed)).toBe(canonicalize(value))
    }
  })

  it('leaves to canonicalize whatever JSON.stringify would write differently', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    let deep: unknown = { end: true }
    for (let i = 0; i < 100; i++) deep = { a: deep }
    const nullProto = Object.assign(Object.create(null) as object, { a: 1, b: [2] })
    const values: unknown[] = [
      { b: 1, a: 2 }, // unsorted
      { 10: 'x', 9: 'y' }, // integer-like keys: listed 9, 10; sorted "10" < "9"
      { a: '\ud800' }, // lone surrogate in a string
      { '\udc00': 1 }, // and in a key
      { a: Number.NaN },
      [1, undefined, 2],
      { a: undefined, b: 1 },
      { a: () => 1 },
      { a: new Date(0) },
      { a: 1, toJSON: () => ({ z: 1, y: 2 }) },
      [{ b: { d: 1, c: 2 }, a: 0 }],
      new Uint8Array([1, 2]),
      nullProto,
      deep,
      cyclic,
      10n,
    ]
    for (const value of values) {
      expect(outcome(() => canonicalJson(value))).toBe(outcome(() => canonicalize(value) as string))
    }
  })

  it('jobs and results are built in canonical order', () => {
    const signer = generateSigner()
    const job = createJob(
      { runner: 'sal', run: 'r', step: 's', input: { z: 1, a: [{ y: 1, b: 2 }] }, env: { B: '1', A: '2' } },
      signer,
    )
    const unsigned = unsignedJob(job)
    expect(JSON.stringify(unsigned)).toBe(canonicalize(unsigned))
    const result = createResult(
      {
        jobId: job.id,
        job: jobDigest(job),
        attempt: 1,
        status: 'failed',
        output: { z: [1], a: null },
        error: { name: 'E', message: 'm', retryable: true },
        startedAt: 1,
        finishedAt: 2,
      },
      signer,
    )
    const { signature: _signature, ...rest } = result
    expect(JSON.stringify(rest)).toBe(canonicalize(rest))
  })
})

describe('job signing bytes', () => {
  it('equal the canonical JSON of { chain, envelope, type } for every link of a chain', () => {
    const submitter = generateSigner()
    const job = createJob(
      { runner: 'sal', input: { z: 1, a: ['ü', 2.5] }, env: { B: '1', A: '2' } },
      submitter,
    )
    const unsigned = unsignedJob(job)
    const chain = [...job.signatures, { key: job.submitter, sig: '00'.repeat(64) }]
    for (let i = 0; i <= chain.length; i++) {
      const expected = canonicalize({ type: 'horus/v1/job', envelope: unsigned, chain: chain.slice(0, i) })
      expect(Buffer.from(jobSigningBytes(canonicalJson(unsigned), chain.slice(0, i))).toString()).toBe(
        expected,
      )
    }
  })
})
