/**
 * Envelopes and results handed over `owned` (fresh from JSON.parse of a frame) are checked in place,
 * without the JSON copy: every check still holds, in the same order and with the same reasons.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TurnBatch } from '../src/core/turn-batch.js'
import {
  appendSignature,
  canonicalJson,
  createJob,
  createJobVerifier,
  createResult,
  defaultEd25519,
  type Ed25519Backend,
  generateSigner,
  type JobEnvelope,
  type JobResult,
  RESULT_SIGNING_DOMAIN,
  resultJsonSize,
  resultSigningBytes,
  signerKeyHex,
  verifyResult,
} from '../src/protocols/jobs/index.js'
import { createVerifierFixture, submissionAuthority, type VerifierFixture } from './jobs-helpers.js'

/** The real default backend, counting its verifications. */
function countingBackend(): Ed25519Backend & { verifies: number } {
  const counting = {
    ...defaultEd25519,
    verifies: 0,
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      counting.verifies++
      return defaultEd25519.verify(signature, message, publicKey)
    },
  }
  return counting
}

/** What a frame's JSON.parse hands over: a private copy. */
const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T
const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value))

let fx: VerifierFixture

beforeEach(async () => {
  fx = await createVerifierFixture()
})

afterEach(async () => {
  await fx.close()
})

function richJob(): JobEnvelope {
  return appendSignature(
    createJob(
      {
        id: 'run-9/step-a/1',
        run: 'run-9',
        step: 'step-a',
        runner: 'sal',
        payload: 'echo "ünïcødé" \\ \n\t\u0001 😀',
        input: { 'step-0': { rows: [1, 2.5, -0.001, 1e21, { deep: true, none: null }], name: 'ü\u2028' } },
        env: { HOME: '/tmp', LANG: 'C' },
        context: { inputs: { region: 'eu' }, run: { id: 'run-9', workflow: 'w', error: null } },
        authority: submissionAuthority(fx.client, 'run-9'),
      },
      fx.client,
    ),
    fx.coordinator,
  )
}

describe('JobVerifier with owned input', () => {
  it('accepts the very object it was handed, and knows its digest', async () => {
    const job = richJob()
    const input = wire(job)
    const result = await fx.verifier.verify(input, { owned: true })
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.job).toBe(input)
    expect(result.job).toEqual(job)
  })

  it('measures exactly the JSON length: the limit is the same byte for byte as for bytes', async () => {
    for (const job of [createJob({ runner: 'sal' }, fx.client), richJob()]) {
      const size = jsonBytes(job)
      const at = createJobVerifier({ trust: fx.policy, replayCache: fx.replayCache, maxBytes: size })
      const below = createJobVerifier({ trust: fx.policy, replayCache: fx.replayCache, maxBytes: size - 1 })
      expect(at.check(wire(job), { owned: true }).ok).toBe(true)
      const owned = below.check(wire(job), { owned: true })
      const copied = below.check(new TextEncoder().encode(JSON.stringify(job)))
      expect(owned).toMatchObject({ ok: false, reason: 'too_large' })
      expect(owned).toEqual(copied)
      expect(owned.ok ? '' : owned.message).toBe(`job is ${size} bytes, the limit is ${size - 1}`)
    }
  })

  it('refuses an oversized envelope as too_large before any schema or signature work', async () => {
    const backend = countingBackend()
    const small = createJobVerifier({
      trust: fx.policy,
      replayCache: fx.replayCache,
      maxBytes: 2048,
      backend,
    })
    const job = createJob({ runner: 'sal', payload: 'x'.repeat(4096) }, fx.client)
    expect(await small.verify(wire(job), { owned: true })).toMatchObject({ ok: false, reason: 'too_large' })
    // Oversized and off the schema: still too_large, the cheaper check first.
    const off = { ...wire(job), attempt: 'first', extra: 'x'.repeat(4096) }
    expect(await small.verify(off, { owned: true })).toMatchObject({ ok: false, reason: 'too_large' })
    // Oversized only in its signatures.
    const padded = { ...wire(createJob({ runner: 'sal' }, fx.client)), signatures: ['y'.repeat(4096)] }
    expect(await small.verify(padded, { owned: true })).toMatchObject({ ok: false, reason: 'too_large' })
    expect(backend.verifies).toBe(0)
  })

  it('refuses a tampered envelope (bad_signature) and a replayed one, as the copying path does', async () => {
    const job = createJob({ runner: 'sal', input: { n: 1 } }, fx.client)
    const tampered = wire(job)
    ;(tampered.input as { n: number }).n = 2
    expect(await fx.verifier.verify(tampered, { owned: true })).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    })
    const forged = { ...wire(job), signatures: [{ key: job.submitter, sig: 'ab'.repeat(64) }] }
    expect(await fx.verifier.verify(forged, { owned: true })).toMatchObject({ reason: 'bad_signature' })
    expect((await fx.verifier.verify(wire(job), { owned: true })).ok).toBe(true)
    expect(await fx.verifier.verify(wire(job), { owned: true })).toMatchObject({ reason: 'replayed' })
  })

  it('gives the same verdict as the copying path for malformed and odd input', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    const text = JSON.stringify(job)
    const cases: unknown[] = [
      { ...wire(job), attempt: 0 },
      { ...wire(job), unknown: 1 },
      { ...wire(job), signatures: [] },
      { ...wire(job), signatures: 'none' },
      { ...wire(job), id: `${job.id}/x` },
      // No canonical form: a lone surrogate, a number JSON cannot hold (these take the copying path).
      JSON.parse(text.replace('"payload":""', '"payload":"\\ud800"')),
      JSON.parse(text.replace('"input":{}', '"input":{"n":1e400}')),
      [wire(job)],
      {},
    ]
    for (const input of cases) {
      const copied = fx.verifier.check(structuredClone(input))
      expect(copied.ok).toBe(false)
      expect(fx.verifier.check(input, { owned: true })).toEqual(copied)
    }
  })
})

describe('verifyResult with owned input', () => {
  const runner = generateSigner()
  const fields = {
    jobId: 'run-1/fetch/1',
    job: 'ab'.repeat(32),
    attempt: 1,
    startedAt: 1_000,
    finishedAt: 2_500,
  }
  const make = (output: unknown = { rows: [1, 2], note: 'ünï 😀 \n' }): JobResult =>
    createResult({ ...fields, status: 'succeeded', output }, runner)

  it('accepts the very object it was handed', () => {
    const input = wire(make())
    const checked = verifyResult(input, { owned: true, runner: signerKeyHex(runner) })
    expect(checked).toEqual({ ok: true, result: make() })
    expect(checked.ok && checked.result).toBe(input)
  })

  it('refuses an oversized result as too_large before any signature work, with the exact size', () => {
    const result = make({ blob: 'x'.repeat(4000) })
    const size = jsonBytes(result)
    const backend = countingBackend()
    expect(verifyResult(wire(result), { owned: true, maxBytes: size, backend }).ok).toBe(true)
    expect(backend.verifies).toBe(1)
    const refused = verifyResult(wire(result), { owned: true, maxBytes: size - 1, backend })
    expect(refused).toEqual({
      ok: false,
      reason: 'too_large',
      message: `result is ${size} bytes, the limit is ${size - 1}`,
    })
    expect(refused).toEqual(verifyResult(JSON.stringify(result), { maxBytes: size - 1 }))
    const padded = { ...wire(result), signature: 'y'.repeat(size) }
    expect(verifyResult(padded, { owned: true, maxBytes: size, backend })).toMatchObject({
      reason: 'too_large',
    })
    expect(backend.verifies).toBe(1)
  })

  it('refuses tampered, misbound and malformed results with the copying path’s verdict', () => {
    const result = make()
    const expected = { jobId: fields.jobId, attempt: 1, digest: fields.job }
    const cases: [unknown, string][] = [
      [{ ...wire(result), status: 'failed' }, 'bad_signature'],
      [{ ...wire(result), output: { rows: [1, 3], note: 'ünï 😀 \n' } }, 'bad_signature'],
      [{ ...wire(result), jobId: 'run-1/fetch/2' }, 'wrong_job'],
      [{ ...wire(result), attempt: 0 }, 'malformed'],
      [{ ...wire(result), outputDigest: 'cd'.repeat(32) }, 'malformed'],
      [JSON.parse(JSON.stringify(result).replace('"note":"', '"note":"\\udc00')), 'malformed'],
      [[wire(result)], 'malformed'],
    ]
    for (const [input, reason] of cases) {
      const copied = verifyResult(structuredClone(input), { job: expected })
      expect(copied).toMatchObject({ ok: false, reason })
      expect(verifyResult(input, { owned: true, job: expected })).toEqual(copied)
    }
  })
})

describe('result sizes and signing bytes', () => {
  const runner = generateSigner()
  const fields = { jobId: 'j.1', job: 'ab'.repeat(32), attempt: 1, startedAt: 1, finishedAt: 2 }

  it('signs the canonical JSON of { result, type }', () => {
    const { signature: _signature, ...unsigned } = createResult(
      { ...fields, status: 'failed', error: { name: 'E', message: 'ü', retryable: false } },
      runner,
    )
    expect(new TextDecoder().decode(resultSigningBytes(unsigned))).toBe(
      canonicalJson({ result: unsigned, type: RESULT_SIGNING_DOMAIN }),
    )
  })

  it('knows the exact JSON size of results it built or verified, and measures others', () => {
    for (const output of [undefined, null, 'ü😀\u0001', { a: [1, 2.5, { b: 'x' }] }]) {
      const built = createResult({ ...fields, status: 'succeeded', output }, runner)
      expect(resultJsonSize(built)).toBe(jsonBytes(built))
      const owned = verifyResult(wire(built), { owned: true })
      const copied = verifyResult(wire(built))
      for (const checked of [owned, copied]) {
        if (!checked.ok) throw new Error(checked.message)
        expect(resultJsonSize(checked.result)).toBe(jsonBytes(built))
      }
      expect(resultJsonSize(wire(built))).toBe(jsonBytes(built))
    }
  })

  it('keeps a batch of large results within its byte bound', () => {
    const results = Array.from({ length: 6 }, (_, i) =>
      createResult({ ...fields, status: 'succeeded', output: { blob: `${i}`.repeat(3000) } }, runner),
    )
    const batches: JobResult[][] = []
    const batch = new TurnBatch<JobResult>({
      maxBytes: 7000,
      sizeOf: resultJsonSize,
      send: (b) => batches.push(b),
    })
    for (const result of results) batch.push(result)
    batch.flush()
    expect(batches.map((b) => b.length)).toEqual([2, 2, 2])
    for (const b of batches) expect(jsonBytes(b)).toBeLessThanOrEqual(7000 + 2)
  })
})
