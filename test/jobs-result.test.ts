import { describe, expect, it } from 'vitest'
import {
  createResult,
  generateSigner,
  InvalidResultError,
  nobleEd25519,
  outputDigest,
  signerKeyHex,
  verifyResult,
} from '../src/protocols/jobs/index.js'

const runner = generateSigner()
const digest = 'ab'.repeat(32)
const base = { jobId: 'run-1/fetch/1', job: digest, attempt: 1, startedAt: 1_000, finishedAt: 2_500 }

describe('signed results', () => {
  it('round-trip through JSON and verify with either backend', () => {
    const result = createResult(
      { ...base, status: 'succeeded', output: { rows: [1, 2], note: 'ok' } },
      runner,
    )
    expect(result.runner).toBe(signerKeyHex(runner))
    const wire = new TextEncoder().encode(JSON.stringify(result))
    expect(verifyResult(wire)).toEqual({ ok: true, result })
    expect(verifyResult(result, { backend: nobleEd25519, runner: signerKeyHex(runner) }).ok).toBe(true)
  })

  it('carry failures with name, message and retryable', () => {
    const result = createResult(
      { ...base, status: 'failed', error: { name: 'CommandFailed', message: 'exit 2', retryable: true } },
      runner,
    )
    expect(verifyResult(result)).toMatchObject({ ok: true, result: { error: { retryable: true } } })
  })

  it('replace a large output by its digest', () => {
    const output = { blob: 'x'.repeat(2_000) }
    const result = createResult({ ...base, status: 'succeeded', output }, runner, { maxOutputBytes: 1_000 })
    expect(result.output).toBeUndefined()
    expect(result.outputDigest).toBe(outputDigest(output))
    expect(verifyResult(result).ok).toBe(true)
  })

  it('fail verification when any field changes', () => {
    const result = createResult({ ...base, status: 'succeeded', output: { n: 1 } }, runner)
    const changes: Record<string, unknown>[] = [
      { jobId: 'run-1/fetch/2' },
      { job: 'cd'.repeat(32) },
      { attempt: 2 },
      { status: 'failed' },
      { output: { n: 2 } },
      { startedAt: 999 },
      { finishedAt: 2_501 },
      { runner: signerKeyHex(generateSigner()) },
      { signature: `${result.signature.slice(0, -1)}${result.signature.endsWith('0') ? '1' : '0'}` },
    ]
    for (const change of changes) {
      expect(verifyResult({ ...result, ...change }), JSON.stringify(change)).toMatchObject({
        ok: false,
        reason: 'bad_signature',
      })
    }
  })

  it('reject the wrong signer, both output forms, bad shapes and oversize input', () => {
    const result = createResult({ ...base, status: 'succeeded', output: 1 }, runner)
    expect(verifyResult(result, { runner: signerKeyHex(generateSigner()) })).toMatchObject({
      ok: false,
      reason: 'not_dispatched_runner',
    })
    expect(verifyResult({ ...result, outputDigest: 'ab'.repeat(32) })).toMatchObject({ reason: 'malformed' })
    expect(verifyResult({ ...result, status: 'done' })).toMatchObject({
      reason: 'malformed',
      message: 'result.status: must be equal to one of the allowed values, got "done"',
    })
    expect(verifyResult(result, { maxBytes: 100 })).toMatchObject({ reason: 'too_large' })
    expect(verifyResult(new Uint8Array(200), { maxBytes: 100 })).toMatchObject({ reason: 'too_large' })
  })

  it('answer one job only, from a trusted runner, checked before the signature', () => {
    const result = createResult({ ...base, status: 'succeeded', output: { pwned: true } }, runner)
    const expected = { jobId: base.jobId, attempt: 1, digest }
    expect(
      verifyResult(result, { job: expected, runner: signerKeyHex(runner), trusted: () => true }).ok,
    ).toBe(true)
    // Same id and attempt, another envelope: a result replayed from another job with that id.
    expect(verifyResult(result, { job: { ...expected, digest: 'cd'.repeat(32) } })).toMatchObject({
      reason: 'wrong_job',
    })
    expect(verifyResult(result, { job: { ...expected, jobId: 'run-2/fetch/1' } })).toMatchObject({
      reason: 'wrong_job',
    })
    expect(verifyResult(result, { job: { ...expected, attempt: 2 } })).toMatchObject({ reason: 'wrong_job' })
    // An untrusted signer is refused without verifying: a forged signature says untrusted_runner.
    const forged = { ...result, signature: 'ee'.repeat(64) }
    const asked: string[] = []
    const trusted = (key: string) => {
      asked.push(key)
      return false
    }
    expect(verifyResult(forged, { job: expected, trusted })).toMatchObject({ reason: 'untrusted_runner' })
    expect(asked).toEqual([signerKeyHex(runner)])
    expect(verifyResult(forged, { job: expected, trusted: () => true })).toMatchObject({
      reason: 'bad_signature',
    })
  })

  it('refuse outputs with no JSON form', () => {
    expect(() => createResult({ ...base, status: 'succeeded', output: Number.NaN }, runner)).toThrow(
      InvalidResultError,
    )
  })
})
