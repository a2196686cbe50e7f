/**
 * A supervisor answering a look-up cannot capture a step with an envelope it made up. After a
 * takeover the new owner looks every new step up on every supervisor before sending it; a
 * supervisor trusted only as a supervisor answers with an envelope under the step's id, naming a
 * trusted coordinator as its submitter. Believed, the step would be followed there and never end.
 * And a supervisor that refuses a step as `replayed` (its node spent the envelope for a supervisor
 * the coordinator lost) fails that attempt as one whose outcome is unknown, not the step for good.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { createJob, type JobEnvelope, stepJobId, toHex } from '../src/protocols/jobs/index.js'
import { JobIdConflictError, JobNotFoundError, type JobResultView } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  runnerVisible,
  step,
  TEST_KINDS,
  testKinds,
  waitForInFlight,
  waitForStatus,
} from './coordinator-fixtures.js'
import { submissionAuthority } from './jobs-helpers.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('a supervisor that makes up the job it holds', () => {
  it('is passed over after a takeover: the step runs on an honest supervisor and the run completes', async () => {
    const gates = new Gates()
    const executions = new Executions()
    const [w, r, a, b] = [
      await mesh.member('work'),
      await mesh.member('rogue'),
      await mesh.member('coordA'),
      await mesh.member('coordB'),
    ]
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, concurrency: 8, kinds: testKinds(gates, executions) } },
    })
    // A real supervisor, trusted as one, whose look-ups lie: for a step id it does not hold it
    // answers a job "submitted" by coordinator A — A's key, a signature A never made.
    const rogue = await mesh.start(r, { roles: ['supervisor'], bootstrap: work })
    const lookUp = rogue.node.rpc.get('supervisor.get_job_result')
    if (lookUp === undefined || lookUp.kind !== 'call') throw new Error('the rogue serves no look-up')
    const honest = lookUp.def.handler
    let forgedAnswers = 0
    let keyOfA = ''
    lookUp.def.handler = async (params, ctx) => {
      const answer = (await Promise.resolve(honest(params, ctx)).catch(() => undefined)) as
        | JobResultView
        | undefined
      if (answer?.job !== undefined) return answer
      const { jobId } = params as { jobId: string }
      const [run, stepId, attempt] = jobId.split('/')
      if (run === undefined || stepId === undefined || attempt === undefined) return answer
      const made = createJob(
        {
          run,
          step: stepId,
          attempt: Number(attempt),
          runner: 'echo',
          payload: 'forged',
          authority: submissionAuthority(rogue.node.trust.signer, run),
        },
        rogue.node.trust.signer,
      )
      const sig = made.signatures[0]?.sig ?? ''
      const forged: JobEnvelope = { ...made, submitter: keyOfA, signatures: [{ key: keyOfA, sig }] }
      forgedAnswers++
      return { jobId, status: 'running', job: forged } satisfies JobResultView
    }
    const options = {
      coordinator: {
        supervisors: [work.node.multiaddrs()[0] as string, rogue.node.multiaddrs()[0] as string],
        runnerKinds: TEST_KINDS,
        leaseTtlMs: 1_500,
        leaseGraceMs: 300,
        leaseCheckMs: 100,
      },
    }
    const coordA = await mesh.start(a, { roles: ['coordinator'], bootstrap: work, options })
    keyOfA = toHex(coordA.node.trust.signer.publicKey)
    const coordB = await mesh.start(b, { roles: ['coordinator'], bootstrap: coordA, options })
    await coordB.node.libp2p.dial(multiaddr(coordA.node.multiaddrs()[0] as string))
    await runnerVisible(work, 'gate')
    await waitFor(
      () =>
        coordA.node.libp2p.services.pubsub
          .getSubscribers('horus/v1/state')
          .some((p) => p.toString() === coordB.peerId),
      { what: 'A to see B on the state topic' },
    )
    const runId = await coordinatorOf(coordA).submit({
      workflow: {
        name: 'captured',
        steps: [
          { id: 'slow', runner: 'gate', payload: 'owner-dies' },
          { id: 'last', runner: 'echo', payload: 'genuine', depends_on: ['slow'] },
        ],
      },
    })
    const viewB = coordinatorOf(coordB)
    await waitForInFlight(viewB, runId, coordA.peerId, ['slow'], 'B to see the run in flight under A')
    await mesh.stop(coordA)
    gates.open('owner-dies')

    const view = await waitForStatus(viewB, runId, ['completed', 'failed', 'cancelled'], 20_000)
    expect(view.status).toBe('completed')
    expect(view.owner).toBe(coordB.peerId)
    expect(step(view, 'last')).toMatchObject({
      state: 'succeeded',
      attempt: 1,
      output: { payload: 'genuine' },
    })
    expect(executions.ofStep(runId, 'last')).toBe(1)
    expect(forgedAnswers).toBeGreaterThan(0)
    expect(viewB.stats().adoptions).toEqual({
      adopted: 1,
      refused: { forged: 1, other_job: 0, untrusted_submitter: 0 },
    })
    expect(work.roles.supervisor?.status(stepJobId(runId, 'last', 1)).status).toBe('succeeded')
  })
  it('that says "taken" to every send and "not found" to every look-up is passed over, not asked for ever', async () => {
    const executions = new Executions()
    const [w, r, c] = [await mesh.member('work'), await mesh.member('rogue'), await mesh.member('coord')]
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), executions) } },
    })
    const rogue = await mesh.start(r, { roles: ['supervisor'], bootstrap: work })
    const send = rogue.node.rpc.get('supervisor.create_job')
    if (send === undefined || send.kind !== 'call') throw new Error('the rogue takes no jobs')
    let refusals = 0
    send.def.handler = async (params) => {
      refusals++
      throw new JobIdConflictError(`job id ${(params as { job: JobEnvelope }).job.id} is taken`)
    }
    // The rogue is listed first: with no load anywhere it is the first pick.
    const coord = await mesh.start(c, {
      roles: ['coordinator'],
      bootstrap: work,
      options: {
        coordinator: {
          supervisors: [rogue.node.multiaddrs()[0] as string, work.node.multiaddrs()[0] as string],
          runnerKinds: TEST_KINDS,
        },
      },
    })
    await runnerVisible(work, 'echo')
    const coordinator = coordinatorOf(coord)
    const runId = await coordinator.submit({
      workflow: { name: 'looped', steps: [{ id: 'only', runner: 'echo', payload: 'x' }] },
    })
    const view = await waitForStatus(coordinator, runId, ['completed', 'failed', 'cancelled'], 20_000)
    expect(view.status).toBe('completed')
    expect(step(view, 'only')).toMatchObject({ state: 'succeeded', attempt: 1 })
    expect(executions.ofStep(runId, 'only')).toBe(1)
    expect(refusals).toBeGreaterThan(0)
    expect(refusals).toBeLessThanOrEqual(3)
  })
})

describe('a supervisor whose node already spent the envelope', () => {
  it('fails the attempt as one whose outcome is unknown there, so the step’s retry policy runs a new one', async () => {
    const executions = new Executions()
    const [w, c] = [await mesh.member('work'), await mesh.member('coord')]
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), executions) } },
    })
    // Attempt 1's nonce spent on the node before it arrives, as the node's runner spends one for a
    // supervisor the coordinator then lost (and has since forgotten the execution).
    const send = work.node.rpc.get('supervisor.create_job')
    if (send === undefined || send.kind !== 'call') throw new Error('the supervisor takes no jobs')
    const honest = send.def.handler
    send.def.handler = async (params, ctx) => {
      const { job } = params as { job: JobEnvelope }
      if (job.attempt === 1) await work.node.trust.verifier.verify(job)
      return honest(params, ctx)
    }
    const coord = await mesh.start(c, {
      roles: ['coordinator'],
      bootstrap: work,
      options: {
        coordinator: { supervisors: [work.node.multiaddrs()[0] as string], runnerKinds: TEST_KINDS },
      },
    })
    await runnerVisible(work, 'echo')
    const coordinator = coordinatorOf(coord)
    const runId = await coordinator.submit({
      workflow: {
        name: 'spent',
        steps: [
          { id: 'only', runner: 'echo', payload: 'x', retry: { max_attempts: 2, initial_delay: '10ms' } },
        ],
      },
    })
    const view = await waitForStatus(coordinator, runId, ['completed', 'failed', 'cancelled'], 20_000)
    expect(view.status).toBe('completed')
    expect(step(view, 'only')).toMatchObject({ state: 'succeeded', attempt: 2 })
    expect(executions.ofStep(runId, 'only')).toBe(1)
    // Refused, not held: nothing of attempt 1 is on that supervisor.
    expect(() => work.roles.supervisor?.status(stepJobId(runId, 'only', 1))).toThrow(JobNotFoundError)
  })
})
