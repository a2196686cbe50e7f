/**
 * The sealed box for job secrets: only the runners a value was sealed to can open it, tampering
 * and renaming are detected, and the sealed form carries nothing of the plaintext.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InvalidJobError } from '../src/protocols/jobs/errors.js'
import {
  commonRecipients,
  createJob,
  SecretNotRecipientError,
  SecretOpenError,
  SecretOpener,
  SecretSealError,
  sealSecret,
  sealSecrets,
  validateJobEnvelope,
} from '../src/protocols/jobs/index.js'
import { createVerifierFixture } from './jobs-helpers.js'

function identity(): { seed: Uint8Array; key: string; opener: SecretOpener } {
  const seed = new Uint8Array(randomBytes(32))
  const opener = new SecretOpener(seed)
  return { seed, key: opener.publicKeyHex, opener }
}

const VALUE = 's3cr3t-Value-ü-42'

function encodings(value: string): string[] {
  const bytes = Buffer.from(value)
  return [value, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')]
}

describe('sealed secrets', () => {
  it('every recipient opens the value; the sealed form shows none of its encodings', () => {
    const runners = [identity(), identity(), identity()]
    const sealed = sealSecret(
      'API_KEY',
      VALUE,
      runners.map((r) => r.key),
    )
    for (const runner of runners) expect(runner.opener.open('API_KEY', sealed)).toBe(VALUE)
    const text = JSON.stringify(sealed)
    for (const form of encodings(VALUE)) expect(text).not.toContain(form)
    expect(sealed.to.map((r) => r.key)).toEqual(runners.map((r) => r.key))
  })

  it('a key it was not sealed to is refused with a typed error', () => {
    const sealed = sealSecret('API_KEY', VALUE, [identity().key])
    const stranger = identity().opener
    expect(stranger.isRecipient(sealed)).toBe(false)
    expect(() => stranger.open('API_KEY', sealed)).toThrow(SecretNotRecipientError)
    expect(() => stranger.open('API_KEY', sealed)).toThrow(/was not sealed to this runner/)
  })

  it('a recipient entry copied to another key does not open for it', () => {
    const owner = identity()
    const thief = identity()
    const sealed = sealSecret('API_KEY', VALUE, [owner.key])
    const forged = { ...sealed, to: [{ key: thief.key, wrap: sealed.to[0]?.wrap as string }] }
    expect(() => thief.opener.open('API_KEY', forged)).toThrow(SecretOpenError)
  })

  it('a flipped byte anywhere, or another name, fails to open', () => {
    const runner = identity()
    const sealed = sealSecret('API_KEY', VALUE, [runner.key])
    const flip = (b64: string): string => {
      const bytes = Buffer.from(b64, 'base64')
      bytes[0] = (bytes[0] as number) ^ 1
      return bytes.toString('base64')
    }
    const entry = sealed.to[0] as { key: string; wrap: string }
    const tampered = [
      { ...sealed, ct: flip(sealed.ct) },
      { ...sealed, nonce: flip(sealed.nonce) },
      { ...sealed, epk: flip(sealed.epk) },
      { ...sealed, to: [{ ...entry, wrap: flip(entry.wrap) }] },
    ]
    for (const bad of tampered) expect(() => runner.opener.open('API_KEY', bad)).toThrow(SecretOpenError)
    expect(() => runner.opener.open('OTHER', sealed)).toThrow(/sealed under another name/)
  })

  it('refuses what it cannot seal safely, naming the problem', () => {
    const key = identity().key
    expect(() => sealSecret('API_KEY', 'abc', [key])).toThrow(SecretSealError)
    expect(() => sealSecret('API_KEY', 'abc', [key])).toThrow(/4 to 65536 bytes, got 3/)
    expect(() => sealSecret('bad-name', VALUE, [key])).toThrow(/variable name/)
    expect(() => sealSecret('API_KEY', VALUE, [])).toThrow(/no recipients/)
    expect(() => sealSecret('API_KEY', VALUE, ['zz'])).toThrow(/not a hex Ed25519 public key/)
  })

  it('the runners able to run a job are those every secret was sealed to', () => {
    const [a, b, c] = [identity(), identity(), identity()]
    const secrets = {
      ONE: sealSecret('ONE', VALUE, [a.key, b.key]),
      TWO: sealSecret('TWO', VALUE, [b.key, c.key]),
    }
    expect([...(commonRecipients(secrets) ?? [])]).toEqual([b.key])
    expect(commonRecipients({})).toBeUndefined()
  })

  it('travels inside the signed envelope: schema-valid, and swapping a sealed value breaks the signature', async () => {
    const fixture = await createVerifierFixture()
    try {
      const runner = identity()
      const secrets = sealSecrets({ API_KEY: VALUE, TOKEN: 'another-one' }, [runner.key])
      const job = createJob({ runner: 'sal', payload: 'env.API_KEY', secrets }, fixture.client)
      expect(validateJobEnvelope(job)).toBe(true)
      expect(fixture.verifier.check(job).ok).toBe(true)
      expect(runner.opener.openAll(job.secrets ?? {})).toEqual({ API_KEY: VALUE, TOKEN: 'another-one' })
      const swapped = {
        ...job,
        secrets: { ...secrets, API_KEY: sealSecret('API_KEY', 'other-value', [runner.key]) },
      }
      expect(fixture.verifier.check(swapped)).toMatchObject({ ok: false, reason: 'bad_signature' })
      expect(() =>
        createJob(
          {
            runner: 'sal',
            env: { API_KEY: 'plain' },
            secrets: { API_KEY: sealSecret('API_KEY', VALUE, [runner.key]) },
          },
          fixture.client,
        ),
      ).toThrow(InvalidJobError)
      expect(validateJobEnvelope({ ...job, secrets: { 'no-dash': job.secrets?.API_KEY } })).toBe(false)
    } finally {
      await fixture.close()
    }
  })
})
