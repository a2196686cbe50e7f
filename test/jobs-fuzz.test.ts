import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createJob, REJECT_REASONS, verifyResult } from '../src/protocols/jobs/index.js'
import { createVerifierFixture, type VerifierFixture } from './jobs-helpers.js'

let fx: VerifierFixture

beforeAll(async () => {
  fx = await createVerifierFixture()
})

afterAll(async () => {
  await fx.close()
})

const encoder = new TextEncoder()

/** Arbitrary envelopes that are close to valid: right field names, wrong-ish values. */
const nearEnvelope = fc.record(
  {
    id: fc.oneof(fc.string(), fc.integer()),
    run: fc.string(),
    attempt: fc.oneof(fc.integer(), fc.double(), fc.string()),
    runner: fc.oneof(fc.constantFrom('sal', 'hero', 'BAD'), fc.string()),
    payload: fc.oneof(fc.string(), fc.jsonValue()),
    input: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
    env: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
    timeoutMs: fc.oneof(fc.integer(), fc.double()),
    createdAt: fc.oneof(fc.nat(), fc.double(), fc.constant(Date.now())),
    expiresAt: fc.oneof(fc.nat(), fc.constant(Date.now() + 60_000)),
    nonce: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{32}$/)),
    submitter: fc.stringMatching(/^[0-9a-f]{64}$/),
    signatures: fc.array(
      fc.record({ key: fc.stringMatching(/^[0-9a-f]{64}$/), sig: fc.stringMatching(/^[0-9a-f]{128}$/) }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
)

describe('the verifier under fuzzing', () => {
  it('turns arbitrary bytes into a rejection, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (input) => {
        const result = fx.verifier.check(input)
        expect(result.ok).toBe(false)
        if (!result.ok) expect(result.reason).toBe('malformed')
      }),
      { numRuns: 300 },
    )
  })

  it('turns arbitrary JSON values (as objects, text and bytes) into malformed', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const input of [value, JSON.stringify(value), encoder.encode(JSON.stringify(value))]) {
          expect(fx.verifier.check(input)).toMatchObject({ ok: false, reason: 'malformed' })
        }
      }),
      { numRuns: 300 },
    )
  })

  it('turns near-envelopes into a typed rejection, never a throw', () => {
    fc.assert(
      fc.property(nearEnvelope, (value) => {
        const result = fx.verifier.check(value)
        expect(result.ok).toBe(false)
        if (!result.ok) expect(REJECT_REASONS).toContain(result.reason)
      }),
      { numRuns: 300 },
    )
  })

  it('never throws on mutated real envelopes and accepts none of them', () => {
    const job = createJob({ runner: 'sal', input: { a: [1, 'two'] }, env: { K: 'v' } }, fx.client)
    const text = JSON.stringify(job)
    fc.assert(
      fc.property(
        fc.nat({ max: text.length - 1 }),
        fc.integer({ min: 0, max: 4 }),
        fc.string({ unit: 'binary', maxLength: 4 }),
        (at, deleteCount, insert) => {
          const mutated = text.slice(0, at) + insert + text.slice(at + deleteCount)
          fc.pre(mutated !== text)
          const result = fx.verifier.check(encoder.encode(mutated))
          // A few edits leave the JSON meaning unchanged (whitespace, an escaped twin of a character).
          if (result.ok) expect(JSON.parse(mutated)).toEqual(job)
          else expect(REJECT_REASONS).toContain(result.reason)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('hostile objects (cycles, BigInt, getters that throw, deep nesting) come back malformed', () => {
    const cyclic: Record<string, unknown> = { runner: 'sal' }
    cyclic.self = cyclic
    const throwing = Object.defineProperty({}, 'runner', {
      enumerable: true,
      get() {
        throw new Error('boom')
      },
    })
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const deepText = `${'['.repeat(200_000)}${']'.repeat(200_000)}`
    for (const input of [cyclic, { id: 1n }, throwing, deep, deepText]) {
      expect(fx.verifier.check(input)).toMatchObject({ ok: false, reason: 'malformed' })
    }
  })

  it('verifyResult never throws either', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 256 })), (value) => {
        expect(verifyResult(value).ok).toBe(false)
      }),
      { numRuns: 300 },
    )
  })
})
