/** Signed submissions and registrations, the verifier's authority check, and caller authority — no libp2p. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CallerAuthority } from '../src/node/caller-authority.js'
import {
  authorityRunMismatch,
  createJob,
  createSubmission,
  createTriggerRegistration,
  documentDigest,
  generateSigner,
  peerIdFromPublicKeyHex,
  signerKeyHex,
  TrustPolicy,
  verifyAuthoritySignature,
} from '../src/protocols/jobs/index.js'
import { createVerifierFixture, submissionAuthority, type VerifierFixture } from './jobs-helpers.js'

const WORKFLOW = { workflow: { name: 'w', steps: [{ id: 'a', runner: 'hero', payload: 'x' }] } }

describe('signed submissions and trigger registrations', () => {
  it('verify as signed, and every changed field breaks the signature', () => {
    const signer = generateSigner()
    const submission = createSubmission({ runId: 'run-1', workflow: WORKFLOW, inputs: { a: 1 } }, signer)
    expect(submission).toMatchObject({
      runId: 'run-1',
      workflowDigest: documentDigest(WORKFLOW),
      inputsDigest: documentDigest({ a: 1 }),
      submitter: signerKeyHex(signer),
    })
    expect(verifyAuthoritySignature({ submission })).toBe(true)
    for (const key of Object.keys(submission) as (keyof typeof submission)[]) {
      if (key === 'signature') continue
      const value = submission[key]
      const changed =
        typeof value === 'number'
          ? value + 1
          : /^[0-9a-f]+$/.test(value)
            ? `${value.slice(0, -1)}${value.endsWith('0') ? '1' : '0'}`
            : `${value}x`
      expect(verifyAuthoritySignature({ submission: { ...submission, [key]: changed } }), key).toBe(false)
    }
    const registration = createTriggerRegistration(
      { name: 'nightly', kind: 'cron', schedule: '0 3 * * *', workflow: WORKFLOW, inputs: {} },
      signer,
    )
    expect(verifyAuthoritySignature({ trigger: registration })).toBe(true)
    expect(verifyAuthoritySignature({ trigger: { ...registration, schedule: '* * * * *' } })).toBe(false)
    // A submission's signature never verifies as a registration's (domain tags).
    expect(
      verifyAuthoritySignature({
        trigger: { ...registration, signature: submission.signature },
      }),
    ).toBe(false)
  })

  it('name exactly their run: a submission one id outside the triggers’ namespace, a firing its trigger’s scheme', () => {
    const signer = generateSigner()
    const submission = createSubmission({ runId: 'run-1', workflow: WORKFLOW, inputs: {} }, signer)
    expect(authorityRunMismatch({ submission }, 'run-1')).toBeUndefined()
    expect(authorityRunMismatch({ submission }, 'run-2')).toMatch(/not of run-2/)
    const reserved = createSubmission({ runId: 'cron.nightly.1', workflow: WORKFLOW, inputs: {} }, signer)
    expect(authorityRunMismatch({ submission: reserved }, 'cron.nightly.1')).toMatch(/reserved for triggers/)
    const cron = createTriggerRegistration(
      { name: 'nightly', kind: 'cron', schedule: '0 3 * * *', workflow: WORKFLOW, inputs: {} },
      signer,
    )
    const firing = (runId: string) => ({ trigger: cron, firing: { runId, at: 1 } })
    expect(
      authorityRunMismatch(firing('cron.nightly.1700000000000'), 'cron.nightly.1700000000000'),
    ).toBeUndefined()
    expect(authorityRunMismatch(firing('cron.other.1700000000000'), 'cron.other.1700000000000')).toMatch(
      /not a firing/,
    )
    expect(authorityRunMismatch(firing('cron.nightly.1'), 'cron.nightly.2')).toMatch(/not cron\.nightly\.2/)
    const hook = createTriggerRegistration(
      { name: 'h', kind: 'http', workflow: WORKFLOW, inputs: {} },
      signer,
    )
    const hookRun = 'hook.h.0b7e2c1a-5d4f-4e3a-9c2b-1a2b3c4d5e6f'
    expect(
      authorityRunMismatch({ trigger: hook, firing: { runId: hookRun, at: 1 } }, hookRun),
    ).toBeUndefined()
  })
})

describe('the verifier checks a step job’s authority', () => {
  let fx: VerifierFixture
  beforeEach(async () => {
    fx = await createVerifierFixture({ clientCapabilities: ['hero'] })
  })
  afterEach(() => fx.close())

  it('caches a verified authority by its signed bytes, never by the signature alone', () => {
    const authority = submissionAuthority(fx.client, 'run-1')
    const job = (step: string, a = authority) =>
      createJob({ id: `run-1/${step}/1`, run: 'run-1', step, runner: 'hero', authority: a }, fx.coordinator)
    for (const step of ['a', 'b', 'c']) expect(fx.verifier.check(job(step)).ok).toBe(true)
    // Same signature, different document: the cache must not vouch for it.
    if (!('submission' in authority)) throw new Error('expected a submission')
    const altered = { submission: { ...authority.submission, runId: 'run-2' } }
    const forged = createJob(
      { id: 'run-2/a/1', run: 'run-2', step: 'a', runner: 'hero', authority: altered },
      fx.coordinator,
    )
    expect(fx.verifier.check(forged)).toMatchObject({ ok: false, reason: 'bad_signature' })
  })

  it('refuses a sal step for a hero-only submitter even when a `*` coordinator signs it', () => {
    const job = createJob(
      {
        id: 'run-1/b/1',
        run: 'run-1',
        step: 'b',
        runner: 'sal',
        authority: submissionAuthority(fx.client, 'run-1'),
      },
      fx.coordinator,
    )
    expect(fx.verifier.check(job)).toMatchObject({ ok: false, reason: 'capability_denied' })
  })
})

describe('CallerAuthority', () => {
  const self = generateSigner()
  const alice = generateSigner()
  const root = generateSigner()
  const policy = TrustPolicy.parse(
    {
      keys: [
        { key: signerKeyHex(alice), roles: ['client'], capabilities: ['hero'] },
        { key: signerKeyHex(root), roles: ['client', 'admin'], capabilities: ['*'] },
      ],
    },
    { self: signerKeyHex(self) },
  )
  const authority = new CallerAuthority(() => policy, signerKeyHex(self))

  it('a libp2p caller is its key; gateway and in-process callers act as the node', () => {
    const peerId = peerIdFromPublicKeyHex(signerKeyHex(alice)).toString()
    expect(authority.identify({ via: 'libp2p', peerId })).toMatchObject({
      key: signerKeyHex(alice),
      via: 'libp2p',
    })
    expect(authority.identify({ via: 'http' })).toMatchObject({ key: signerKeyHex(self), via: 'gateway' })
    expect(authority.identify(undefined)).toMatchObject({ key: signerKeyHex(self), via: 'local' })
    expect(authority.identify({ via: 'libp2p', peerId: 'not a peer id' }).key).toBeUndefined()
  })

  it('answers from the policy and, when present, the gateway grant', () => {
    const aliceId = authority.identify({ via: 'libp2p', publicKeyHex: signerKeyHex(alice) })
    expect(authority.decide(aliceId, 'client', 'hero').admitted).toBe(true)
    expect(authority.decide(aliceId, 'client', 'sal')).toMatchObject({
      admitted: false,
      reason: 'capability_denied',
    })
    expect(authority.isAdmin(aliceId)).toBe(false)
    expect(authority.isAdmin(authority.identify({ via: 'libp2p', publicKeyHex: signerKeyHex(root) }))).toBe(
      true,
    )
    const node = authority.identify({ via: 'http' })
    expect(authority.isAdmin(node)).toBe(true)
    expect(authority.decide(node, 'client', 'sal').admitted).toBe(true)
    const granted = authority.identify({ via: 'http', grant: { roles: ['client'], capabilities: ['hero'] } })
    expect(authority.decide(granted, 'client', 'hero').admitted).toBe(true)
    expect(authority.decide(granted, 'client', 'sal')).toMatchObject({
      admitted: false,
      reason: 'capability_denied',
    })
    expect(authority.isAdmin(granted)).toBe(false)
    expect(authority.mayTouchRun(granted, signerKeyHex(self))).toBe(true)
    expect(authority.mayTouchRun(aliceId, signerKeyHex(root))).toBe(false)
  })
})
