/**
 * Authority follows the submitter (issue 10, part B), on real nodes over loopback: a client
 * trusted only for `hero` cannot get a `sal` step run through a coordinator trusted with `*` —
 * refused at `submit_workflow` naming the step, and refused by supervisor and runner when a
 * coordinator signs such a job anyway — nor forge, alter, replay or borrow a submission, nor sign
 * a job under another run's authority or a future cron tick's run id. Each attempt is refused with
 * its typed reason, counted, and leaves no execution and no run behind.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  canonicalJson,
  createJob,
  createSubmission,
  createTriggerRegistration,
  defaultEd25519,
  documentDigest,
  fromHex,
  type JobAuthority,
  type JobEnvelope,
  jobSigningBytes,
  type SignedSubmission,
  toHex,
  unsignedJob,
} from '../src/protocols/jobs/index.js'
import type { RunView } from '../src/roles/coordinator/index.js'
import { runAuthority } from '../src/roles/coordinator/service/run-access.js'
import { COMPOSED_DEPUTY, DEPUTY, HERO_ONLY, refusal, startAuthorityMesh } from './authority-fixtures.js'
import { coordinatorOf, JobMesh, submitParams } from './coordinator-fixtures.js'

const COUNTED = {
  workflow: {
    name: 'counted',
    inputs: { n: { default: 0 } },
    steps: [{ id: 'a', runner: 'hero', payload: 'hello' }],
  },
}

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('signed submissions at the coordinator', () => {
  it('refuses the confused deputy naming the step, composed steps too, and counts it', async () => {
    const m = await startAuthorityMesh(mesh)
    const coordinator = coordinatorOf(m.hub)
    const alice = mesh.client(m.alice, m.hub)
    const before = coordinator.engine.runs.size

    const direct = await refusal(alice.call('coordinator.submit_workflow', submitParams(m.alice, DEPUTY)))
    expect(direct.data).toMatchObject({
      name: 'CapabilityDeniedError',
      reason: 'capability_denied',
      step: 'workflow.steps[1] "b"',
      capability: 'sal',
    })
    expect(direct.message).toMatch(
      /^workflow\.steps\[1\] "b": key [0-9a-f]{64} \(alice\) may not use capability "sal"$/,
    )

    const composed = await refusal(
      alice.call('coordinator.submit_workflow', submitParams(m.alice, COMPOSED_DEPUTY)),
    )
    expect(composed.data).toMatchObject({ name: 'CapabilityDeniedError', capability: 'sal' })
    expect(String(composed.data.step)).toMatch(/"inner\.x"$/)

    expect(coordinator.refusals.capability_denied).toBe(2)
    expect(coordinator.engine.runs.size).toBe(before)
    expect(m.executions.byJob.size).toBe(0)

    // The same client's hero-only workflow runs, under its own signed submission.
    const { runId } = await alice.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(m.alice, HERO_ONLY),
    )
    const done = await alice.call<RunView>('coordinator.wait_for_completion', { runId, timeoutMs: 15_000 })
    expect(done.status).toBe('completed')
    const authority = runAuthority(coordinator.runState(runId)?.state.meta)
    expect(authority).toMatchObject({
      submission: { runId, submitter: toHex(m.alice.node.trust.signer.publicKey) },
    })
  })

  it('refuses forged, altered, expired, borrowed and reserved submissions; a resubmission is the same run', async () => {
    const m = await startAuthorityMesh(mesh)
    const coordinator = coordinatorOf(m.hub)
    const alice = mesh.client(m.alice, m.hub)
    const bob = mesh.client(m.bob, m.hub)
    const submit = (params: unknown) =>
      alice.call<{ runId: string }>('coordinator.submit_workflow', params as never)
    const reasonOf = async (params: unknown, client = alice): Promise<unknown> =>
      (await refusal(client.call('coordinator.submit_workflow', params as never))).data.reason

    const good = submitParams(m.alice, COUNTED, { n: 1 })
    const forged: SignedSubmission = { ...good.submission, signature: 'ab'.repeat(64) }
    expect(await reasonOf({ ...good, submission: forged })).toBe('bad_signature')
    const otherRun = { ...good.submission, runId: 'another-run' }
    expect(await reasonOf({ ...good, submission: otherRun })).toBe('bad_signature')
    expect(await reasonOf({ ...good, inputs: { n: 2 } })).toBe('digest_mismatch')
    expect(await reasonOf({ ...good, workflow: DEPUTY })).toBe('digest_mismatch')
    const stale = createSubmission(
      { runId: 'stale-run', workflow: HERO_ONLY, inputs: {}, createdAt: Date.now() - 20 * 60_000 },
      m.alice.node.trust.signer,
    )
    expect(await reasonOf({ workflow: HERO_ONLY, inputs: {}, submission: stale })).toBe('expired')
    // Signed by alice, sent by bob: the caller must be the submitter.
    expect(await reasonOf(good, bob)).toBe('submitter_mismatch')
    // Trigger run ids are not a client's to take (a future cron tick cannot be claimed).
    expect(await reasonOf(submitParams(m.alice, HERO_ONLY, {}, 'cron.nightly.4102444800000'))).toBe(
      'malformed',
    )
    expect(await reasonOf({ workflow: HERO_ONLY, inputs: {} })).toBe('required')
    expect(coordinator.refusals).toMatchObject({
      bad_signature: 2,
      digest_mismatch: 2,
      expired: 1,
      submitter_mismatch: 1,
      malformed: 1,
      required: 1,
    })
    expect(coordinator.engine.runs.size).toBe(0)

    // Idempotent: the same signed submission twice is one run; another one with its id conflicts.
    const first = await submit(good)
    expect(await submit(good)).toEqual(first)
    expect(first.runId).toBe(good.submission.runId)
    const conflict = submitParams(m.alice, COUNTED, { n: 1 }, good.submission.runId)
    expect((await refusal(submit(conflict))).data.name).toBe('RunExistsError')
    await alice.call('coordinator.wait_for_completion', { runId: first.runId, timeoutMs: 15_000 })
    expect(coordinator.engine.runs.size).toBe(1)
    expect(m.executions.ofStep(first.runId, 'a')).toBe(1)
    // What provenance needs is in the replicated state: the document and inputs the digests cover.
    const meta = coordinator.runState(first.runId)?.state.meta
    expect(documentDigest(meta?.workflow)).toBe(good.submission.workflowDigest)
    expect(documentDigest(meta?.submittedInputs)).toBe(good.submission.inputsDigest)
    expect(meta?.inputs).toEqual({ n: 1 })
    // And each dispatched job, signed, chaining back to the submission.
    const records = (coordinator.runState(first.runId)?.state.log() ?? []).filter(
      (e) => e.type === 'job_dispatched',
    )
    expect(records).toHaveLength(1)
    const record = records[0]?.data as unknown as { envelope: JobEnvelope }
    const envelope = record.envelope
    expect(envelope).toMatchObject({ id: `${first.runId}/a/1`, runner: 'hero', payload: 'hello' })
    expect(envelope.authority).toEqual(meta?.authority)
    const link = envelope.signatures[0] as { key: string; sig: string }
    const signed = jobSigningBytes(canonicalJson(unsignedJob(envelope)), [])
    expect(defaultEd25519.verify(fromHex(link.sig), signed, fromHex(link.key))).toBe(true)
  })
})

describe('step jobs carry the authority: supervisors and runners check the submitter', () => {
  it('refuses a coordinator-signed sal job under a hero-only submission, a borrowed authority and a squatted cron tick', async () => {
    const m = await startAuthorityMesh(mesh)
    const alice = mesh.client(m.alice, m.hub)
    const { runId } = await alice.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(m.alice, HERO_ONLY),
    )
    await alice.call('coordinator.wait_for_completion', { runId, timeoutMs: 15_000 })
    const victim = runAuthority(coordinatorOf(m.hub).runState(runId)?.state.meta) as JobAuthority
    expect(victim).toBeDefined()

    const supervisorOf = (from: typeof m.mallory) => mesh.client(from, m.hub)
    const expectRejected = async (from: typeof m.mallory, job: JobEnvelope, reason: string) => {
      const err = await refusal(supervisorOf(from).call('supervisor.create_job', { job } as never))
      expect(err.message).toContain(`(${reason})`)
      // The runner checks on its own too (called by the hub, a trusted supervisor).
      const direct = await refusal(mesh.client(m.hub, m.runner).call('runner.execute', { job } as never))
      expect(direct.message).toContain(`(${reason})`)
    }
    const stats = () => m.hub.node.trust.verifier.stats().rejected
    const runnerStats = () => m.runner.node.trust.verifier.stats().rejected

    // A coordinator trusted with `*` signs a sal step job for alice's run: the submitter decides.
    const deputy = createJob(
      { id: `${runId}/b/1`, run: runId, step: 'b', runner: 'sal', payload: 'pwn', authority: victim },
      m.mallory.node.trust.signer,
    )
    await expectRejected(m.mallory, deputy, 'capability_denied')

    // Bob (a client, not a coordinator) signs a hero job under alice's submission.
    const borrowed = createJob(
      { id: `${runId}/a/2`, run: runId, step: 'a', attempt: 2, runner: 'hero', authority: victim },
      m.bob.node.trust.signer,
    )
    await expectRejected(m.bob, borrowed, 'authority_mismatch')

    // A job whose run is not the one its authority names.
    const elsewhere = createJob(
      { id: 'other-run/a/1', run: 'other-run', step: 'a', runner: 'hero', authority: victim },
      m.mallory.node.trust.signer,
    )
    await expectRejected(m.mallory, elsewhere, 'authority_mismatch')

    // Pre-squatting a future cron tick: with a submission of its own, or with the trigger's registration.
    const tick = 'cron.nightly.4102444800000'
    const own = {
      submission: createSubmission({ runId: tick, workflow: HERO_ONLY, inputs: {} }, m.bob.node.trust.signer),
    }
    const squat = createJob(
      { id: `${tick}/a/1`, run: tick, step: 'a', runner: 'hero', authority: own },
      m.bob.node.trust.signer,
    )
    await expectRejected(m.bob, squat, 'authority_mismatch')
    const registration = createTriggerRegistration(
      { name: 'nightly', kind: 'cron', schedule: '0 3 * * *', workflow: HERO_ONLY, inputs: {} },
      m.alice.node.trust.signer,
    )
    const firing = { trigger: registration, firing: { runId: tick, at: 4102444800000 } }
    const tickJob = (step: string, runner: string, from: typeof m.bob) =>
      createJob(
        { id: `${tick}/${step}/1`, run: tick, step, runner, authority: firing },
        from.node.trust.signer,
      )
    const viaTrigger = tickJob('a', 'hero', m.bob)
    await expectRejected(m.bob, viaTrigger, 'authority_mismatch')
    // The trigger's registrar is hero-only: a coordinator cannot fire a sal job under it.
    const triggerDeputy = tickJob('b', 'sal', m.mallory)
    await expectRejected(m.mallory, triggerDeputy, 'capability_denied')

    // A job of a run with no authority at all.
    const bare = createJob(
      { id: 'bare/a/1', run: 'bare', step: 'a', runner: 'hero' },
      m.mallory.node.trust.signer,
    )
    await expectRejected(m.mallory, bare, 'malformed')

    for (const counts of [stats(), runnerStats()]) {
      expect(counts.capability_denied).toBeGreaterThanOrEqual(2)
      expect(counts.authority_mismatch).toBeGreaterThanOrEqual(4)
    }
    expect(m.executions.byJob.size).toBe(1)
    expect([...m.executions.byJob.keys()]).toEqual([`${runId}/a/1`])
  })
})
