import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  adHocJobId,
  appendSignature,
  canonicalJson,
  createJob,
  createJobVerifier,
  DEFAULT_CLOCK_SKEW_MS,
  InvalidJobError,
  type JobEnvelope,
  jobEnvelopeSchema,
  jobSigningBytes,
  MAX_JOB_TIMEOUT_MS,
  type RejectReason,
  ReplayCache,
  sealSecrets,
  signerKeyHex,
  stepJobId,
  TrustPolicy,
  toHex,
} from '../src/protocols/jobs/index.js'
import { createVerifierFixture, submissionAuthority, type VerifierFixture } from './jobs-helpers.js'

const encoder = new TextEncoder()
const bytes = (job: unknown): Uint8Array => encoder.encode(JSON.stringify(job))

let fx: VerifierFixture

beforeEach(async () => {
  fx = await createVerifierFixture()
})

afterEach(async () => {
  await fx.close()
})

async function expectRejected(input: unknown, reason: RejectReason, options = {}): Promise<string> {
  const result = await fx.verifier.verify(input, options)
  if (result.ok) throw new Error(`expected ${reason}, job was accepted`)
  expect(result.reason).toBe(reason)
  return result.message
}

describe('JobVerifier accepts', () => {
  it('a job signed by a trusted client, from bytes or from an object', async () => {
    const job = createJob({ runner: 'sal', payload: 'echo hi', input: { a: 1 } }, fx.client)
    const result = await fx.verifier.verify(bytes(job), { capability: 'sal' })
    expect(result).toEqual({ ok: true, job })
    const other = createJob({ runner: 'hero' }, fx.client)
    expect((await fx.verifier.verify(other)).ok).toBe(true)
    expect(fx.verifier.stats().accepted).toBe(2)
  })

  it('jobs from the node itself with an empty policy', async () => {
    const job = createJob({ runner: 'osiris' }, fx.self)
    expect((await fx.verifier.verify(job)).ok).toBe(true)
  })

  it('a chain re-dispatched by a trusted coordinator', async () => {
    const job = createJob(
      {
        id: stepJobId('run-1', 'fetch', 2),
        run: 'run-1',
        step: 'fetch',
        attempt: 2,
        runner: 'sal',
        authority: submissionAuthority(fx.client, 'run-1'),
      },
      fx.client,
    )
    const redispatched = appendSignature(job, fx.coordinator)
    expect(redispatched.signatures).toHaveLength(2)
    expect(redispatched.signatures[0]).toEqual(job.signatures[0])
    expect(redispatched.id).toBe('run-1/fetch/2')
    expect((await fx.verifier.verify(redispatched)).ok).toBe(true)
  })

  it('a job created within the clock-skew tolerance', async () => {
    const now = Date.now()
    const job = createJob({ runner: 'sal', createdAt: now + DEFAULT_CLOCK_SKEW_MS - 1_000 }, fx.client)
    expect((await fx.verifier.verify(job, { now })).ok).toBe(true)
  })
})

describe('JobVerifier rejects', () => {
  it('bad_signature: a forged signature, a wrong first signer, a reordered chain', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    const forged = { ...job, signatures: [{ key: job.submitter, sig: 'ab'.repeat(64) }] }
    expect(await expectRejected(forged, 'bad_signature')).toMatch(/signature 0/)

    const signedByOther = createJob({ runner: 'sal' }, fx.coordinator)
    const swapped = { ...signedByOther, submitter: signerKeyHex(fx.client) }
    expect(await expectRejected(swapped, 'bad_signature')).toMatch(/first signature/)

    const chain = appendSignature(appendSignature(job, fx.coordinator), fx.self)
    const [first, second, third] = chain.signatures
    if (first === undefined || second === undefined || third === undefined) throw new Error('short chain')
    await expectRejected({ ...chain, signatures: [first, third, second] }, 'bad_signature')
    // A signature taken from another job's chain does not carry over.
    const otherChain = appendSignature(createJob({ runner: 'sal' }, fx.client), fx.coordinator)
    const borrowed = otherChain.signatures[1]
    if (borrowed === undefined) throw new Error('short chain')
    await expectRejected({ ...job, signatures: [first, borrowed] }, 'bad_signature')
  })

  it('untrusted_key: a stranger, a key without a submitting role, a non-coordinator in the chain', async () => {
    expect(await expectRejected(createJob({ runner: 'sal' }, fx.stranger), 'untrusted_key')).toMatch(
      /not in the trust policy/,
    )
    expect(await expectRejected(createJob({ runner: 'sal' }, fx.runnerOnly), 'untrusted_key')).toMatch(
      /does not hold role client or coordinator/,
    )
    const job = createJob({ runner: 'sal' }, fx.client)
    expect(await expectRejected(appendSignature(job, fx.client), 'untrusted_key')).toMatch(/signature 1/)
    await expectRejected(appendSignature(job, fx.stranger), 'untrusted_key')
  })

  it('capability_denied: a trusted key outside its capabilities, or a job for another capability', async () => {
    expect(await expectRejected(createJob({ runner: 'osiris' }, fx.client), 'capability_denied')).toMatch(
      /may not use capability "osiris"/,
    )
    await expectRejected(createJob({ runner: 'sal' }, fx.client), 'capability_denied', { capability: 'hero' })
  })

  it('expired', async () => {
    const job = createJob({ runner: 'sal', createdAt: 1_000_000, ttlMs: 60_000 }, fx.client)
    expect(await expectRejected(job, 'expired', { now: 1_060_000 })).toMatch(/expired at/)
    expect((await fx.verifier.verify(job, { now: 1_059_999 })).ok).toBe(true)
  })

  it('not_yet_valid, with a configurable tolerance', async () => {
    const now = Date.now()
    const job = createJob({ runner: 'sal', createdAt: now + DEFAULT_CLOCK_SKEW_MS + 1 }, fx.client)
    expect(await expectRejected(job, 'not_yet_valid', { now })).toMatch(/in the future/)
    const lenient = createJobVerifier({ trust: fx.policy, replayCache: fx.replayCache, clockSkewMs: 120_000 })
    expect((await lenient.verify(job, { now })).ok).toBe(true)
  })

  it('replayed: the second verify of the same (submitter, nonce), even with a longer chain', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    expect((await fx.verifier.verify(job)).ok).toBe(true)
    const again = await fx.verifier.verify(bytes(job))
    expect(again).toMatchObject({ ok: false, reason: 'replayed', job: { id: job.id } })
    await expectRejected(appendSignature(job, fx.coordinator), 'replayed')
    expect(fx.verifier.check(job)).toMatchObject({ ok: false, reason: 'replayed' })
  })

  it('replayed: concurrent verifies of one job accept exactly one', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    const results = await Promise.all(Array.from({ length: 5 }, () => fx.verifier.verify(bytes(job))))
    expect(results.filter((result) => result.ok)).toHaveLength(1)
  })

  it('too_large, for bytes and for objects', async () => {
    const small = createJobVerifier({ trust: fx.policy, replayCache: fx.replayCache, maxBytes: 2048 })
    const job = createJob({ runner: 'sal', payload: 'x'.repeat(4096) }, fx.client)
    expect(await small.verify(bytes(job))).toMatchObject({ ok: false, reason: 'too_large' })
    expect(await small.verify(job)).toMatchObject({ ok: false, reason: 'too_large' })
    const huge = new Uint8Array(1024 * 1024 + 1)
    await expectRejected(huge, 'too_large')
  })

  it.each([
    ['not JSON', encoder.encode('{"id": ')],
    ['invalid UTF-8', Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])],
    ['an array', [1, 2]],
    ['a number', 42],
    ['undefined', undefined],
    ['a function', () => 1],
  ])('malformed: %s', async (_name, input) => {
    await expectRejected(input, 'malformed')
  })

  it('malformed: schema violations name the path', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    expect(await expectRejected({ ...job, attempt: 0 }, 'malformed')).toBe('job.attempt: must be >= 1, got 0')
    expect(await expectRejected({ ...job, env: { A: 1 } }, 'malformed')).toBe(
      'job.env.A: must be string, got 1',
    )
    expect(await expectRejected({ ...job, extra: true }, 'malformed')).toMatch(
      /must NOT have additional properties \(extra\)/,
    )
    expect(await expectRejected({ ...job, runner: 'Bad Runner' }, 'malformed')).toMatch(
      /^job\.runner: must match .*, got "Bad Runner"$/,
    )
    // A long value is named by its length only: it came from a peer and goes into logs and answers.
    expect(await expectRejected({ ...job, runner: `Bad${'x'.repeat(100)}` }, 'malformed')).toMatch(
      /, got a string of 103 characters$/,
    )
    expect(await expectRejected({ ...job, signatures: [] }, 'malformed')).toMatch(/^job\.signatures/)
    const { nonce: _nonce, ...withoutNonce } = job
    expect(await expectRejected(withoutNonce, 'malformed')).toMatch(/nonce/)
  })

  it('malformed: a timeoutMs beyond the longest a job may carry (7 days), refused naming the field', async () => {
    const atMax = createJob({ runner: 'sal', timeoutMs: MAX_JOB_TIMEOUT_MS }, fx.client)
    expect(await fx.verifier.verify(atMax)).toMatchObject({ ok: true })
    // Signed by hand: createJob refuses to build it (below), a rogue would not.
    const { signatures: _s, ...unsigned } = {
      ...createJob({ runner: 'sal' }, fx.client),
      timeoutMs: MAX_JOB_TIMEOUT_MS + 1,
    }
    const sig = fx.client.sign(jobSigningBytes(canonicalJson(unsigned), []))
    const over = { ...unsigned, signatures: [{ key: signerKeyHex(fx.client), sig: toHex(sig) }] }
    expect(await expectRejected(over, 'malformed')).toBe(
      `job.timeoutMs: must be <= ${MAX_JOB_TIMEOUT_MS}, got ${MAX_JOB_TIMEOUT_MS + 1}`,
    )
    expect(() => createJob({ runner: 'sal', timeoutMs: MAX_JOB_TIMEOUT_MS + 1 }, fx.client)).toThrow(
      new InvalidJobError(`job.timeoutMs: must be <= ${MAX_JOB_TIMEOUT_MS}, got ${MAX_JOB_TIMEOUT_MS + 1}`),
    )
  })

  it('malformed: a lifetime that is negative or longer than the limit', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    await expectRejected({ ...job, expiresAt: job.createdAt }, 'malformed')
    const long = createJob({ runner: 'sal', ttlMs: 48 * 3600_000 }, fx.client)
    expect(await expectRejected(long, 'malformed')).toMatch(/lifetime/)
  })

  it("malformed: an id out of its shape, or in another submitter's namespace", async () => {
    // Signed by hand: createJob refuses to build these (see below), a rogue would not.
    const signed = (fields: Partial<JobEnvelope>, signer = fx.client): JobEnvelope => {
      const { signatures: _s, ...unsigned } = { ...createJob({ runner: 'sal' }, signer), ...fields }
      const sig = signer.sign(jobSigningBytes(canonicalJson(unsigned), []))
      return { ...unsigned, signatures: [{ key: signerKeyHex(signer), sig: toHex(sig) }] }
    }
    const theirs = adHocJobId(signerKeyHex(fx.coordinator), 'victim')
    expect(await expectRejected(signed({ id: theirs }), 'malformed')).toMatch(/submitter's namespace/)
    expect(await expectRejected(signed({ id: 'run-1/b/1' }), 'malformed')).toMatch(/no "\/"/)
    expect(
      await expectRejected(signed({ id: 'run-1/b/2', run: 'run-1', step: 'b', attempt: 1 }), 'malformed'),
    ).toMatch(/"run-1\/b\/1"/)
    expect(await expectRejected(signed({ id: 'run-1/b/1', run: 'run-1' }), 'malformed')).toMatch(/together/)
    expect((await fx.verifier.verify(signed({ id: adHocJobId(signerKeyHex(fx.client), 'mine') }))).ok).toBe(
      true,
    )
    expect(() => createJob({ runner: 'sal', id: theirs }, fx.client)).toThrow(/submitter's namespace/)
    expect(() => createJob({ runner: 'sal', id: 'run-1/b/1' }, fx.client)).toThrow(InvalidJobError)
  })

  it('malformed, never a throw, when the replay cache is not running', async () => {
    const stopped = new ReplayCache({ datastore: fx.store.datastore })
    const verifier = createJobVerifier({ trust: fx.policy, replayCache: stopped })
    const result = await verifier.verify(createJob({ runner: 'sal' }, fx.client))
    expect(result).toMatchObject({ ok: false, reason: 'malformed', message: /replay cache is not started/ })
  })
})

describe('changing any single field of a signed envelope', () => {
  type Path = (string | number)[]

  function leaves(value: unknown, path: Path = []): Path[] {
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>)
      const own: Path[] = Array.isArray(value) ? [] : [[...path, '<added>']]
      return [
        ...own,
        ...entries.flatMap(([key, child]) =>
          leaves(child, [...path, Array.isArray(value) ? Number(key) : key]),
        ),
      ]
    }
    return [path]
  }

  function mutate(value: unknown): unknown {
    if (typeof value === 'number') return value + 1
    if (typeof value === 'boolean') return !value
    if (value === null) return 0
    const text = String(value)
    // Hex stays hex (and keeps its length) so the change gets past the schema to the signature.
    if (/^[0-9a-f]+$/.test(text)) return text.slice(0, -1) + (text.endsWith('0') ? '1' : '0')
    return `${text}x`
  }

  function withChange(job: JobEnvelope, path: Path): unknown {
    const copy = structuredClone(job) as unknown as Record<string | number, unknown>
    let parent: Record<string | number, unknown> = copy
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
    const last = path.at(-1)
    if (last === undefined) throw new Error('empty path')
    if (last === '<added>') parent.added = 'x'
    else parent[last] = mutate(parent[last])
    return copy
  }

  it('makes verification fail, for every field including nested input, env and secrets', async () => {
    const job = appendSignature(
      createJob(
        {
          id: 'run-9/step-a/1',
          run: 'run-9',
          step: 'step-a',
          runner: 'sal',
          payload: 'ls -la',
          input: { 'step-0': { rows: [1, 2, { deep: true, none: null }], name: 'ü' } },
          env: { HOME: '/tmp', LANG: 'C' },
          context: { inputs: { region: 'eu' }, run: { id: 'run-9', workflow: 'w', error: null } },
          secrets: sealSecrets({ API_KEY: 'sealed-value' }, [signerKeyHex(fx.runnerOnly)]),
          timeoutMs: 5_000,
          authority: submissionAuthority(fx.client, 'run-9'),
        },
        fx.client,
      ),
      fx.coordinator,
    )
    const paths = leaves(job)
    const topLevel = new Set(paths.map((path) => path[0]))
    expect([...topLevel].sort()).toEqual(Object.keys(jobEnvelopeSchema.properties).concat('<added>').sort())
    for (const path of paths) {
      const changed = withChange(job, path)
      const result = fx.verifier.check(changed)
      expect(result.ok, `changing ${path.join('.')} was accepted`).toBe(false)
      // Handed over in place (as a frame's JSON.parse gives it), with the same verdict.
      const owned = fx.verifier.check(JSON.parse(JSON.stringify(changed)), { owned: true })
      expect(owned, `changing ${path.join('.')} (owned)`).toEqual(result)
    }
    // The optional fields cannot be dropped either: run or step alone breaks the id's shape, the
    // others (and run and step together) the signatures.
    for (const field of ['run', 'step'] as const) {
      const { [field]: _dropped, ...without } = job
      expect(fx.verifier.check(without)).toMatchObject({ ok: false, reason: 'malformed' })
    }
    for (const field of ['context', 'secrets', 'authority'] as const) {
      const { [field]: _dropped, ...without } = job
      expect(fx.verifier.check(without)).toMatchObject({ ok: false, reason: 'bad_signature' })
    }
    const { run: _run, step: _step, ...neither } = job
    expect(fx.verifier.check(neither)).toMatchObject({ ok: false, reason: 'malformed' })
    expect(fx.verifier.check(job).ok).toBe(true)
  })
})

describe('check() and stats()', () => {
  it('check does not consume the nonce, verify does', async () => {
    const job = createJob({ runner: 'sal' }, fx.client)
    expect(fx.verifier.check(job).ok).toBe(true)
    expect(fx.verifier.check(job).ok).toBe(true)
    expect((await fx.verifier.verify(job)).ok).toBe(true)
    expect(fx.verifier.check(job)).toMatchObject({ ok: false, reason: 'replayed' })
    expect(fx.verifier.stats()).toMatchObject({ accepted: 1, checked: 2, rejected: { replayed: 1 } })
  })

  it('counts every rejection by reason and announces it', async () => {
    const seen: string[] = []
    fx.verifier.addEventListener('job:rejected', (event) =>
      seen.push(`${event.detail.mode}:${event.detail.reason}`),
    )
    await fx.verifier.verify(createJob({ runner: 'sal' }, fx.stranger))
    fx.verifier.check('nonsense')
    const stats = fx.verifier.stats()
    expect(stats.rejected).toMatchObject({ untrusted_key: 1, malformed: 1, bad_signature: 0 })
    expect(seen).toEqual(['verify:untrusted_key', 'check:malformed'])
  })

  it('follows a trust policy that changes under it', async () => {
    const holder = { policy: TrustPolicy.parse({ keys: [] }) }
    const verifier = createJobVerifier({ trust: holder, replayCache: fx.replayCache })
    const job = createJob({ runner: 'sal' }, fx.stranger)
    expect(verifier.check(job)).toMatchObject({ ok: false, reason: 'untrusted_key' })
    holder.policy = TrustPolicy.parse({
      keys: [{ key: job.submitter, roles: ['client'], capabilities: ['sal'] }],
    })
    expect(verifier.check(job).ok).toBe(true)
  })
})

describe('createJob', () => {
  it('fills defaults and a fresh nonce per job', () => {
    const a = createJob({ runner: 'sal' }, fx.client)
    const b = createJob({ runner: 'sal' }, fx.client)
    expect(a).toMatchObject({
      attempt: 1,
      payload: '',
      input: {},
      env: {},
      submitter: signerKeyHex(fx.client),
    })
    expect(a.expiresAt - a.createdAt).toBe(10 * 60_000)
    expect(a.nonce).toMatch(/^[0-9a-f]{32}$/)
    expect(a.nonce).not.toBe(b.nonce)
    expect(a.id).not.toBe(b.id)
  })

  it('refuses fields it cannot sign, naming the path', () => {
    expect(() => createJob({ runner: 'Not A Capability' }, fx.client)).toThrow(InvalidJobError)
    expect(() => createJob({ runner: 'sal', attempt: 0 }, fx.client)).toThrow('job.attempt: must be >= 1')
    expect(() => createJob({ runner: 'sal', input: { x: Number.NaN } }, fx.client)).toThrow(/^job\.input: /)
    expect(() => createJob({ runner: 'sal', createdAt: 10, expiresAt: 10 }, fx.client)).toThrow(
      /job\.expiresAt/,
    )
  })

  it('stores input exactly as it is signed', () => {
    const job = createJob({ runner: 'sal', input: { when: new Date(0), skip: undefined } }, fx.client)
    expect(job.input).toEqual({ when: '1970-01-01T00:00:00.000Z' })
  })
})
