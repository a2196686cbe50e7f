/**
 * Issue 10, part A — jobs belong to their submitter. Observed attack 4: a client squats the id of
 * a victim's next workflow step (and could any ad-hoc id) so its output becomes the step's.
 * Observed attack 5: any trusted client reads everyone's jobs. And a runner's refusal must reach
 * the client instead of a silent wait until expiry.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/index.js'
import {
  adHocJobId,
  canonicalJson,
  createJob,
  InvalidJobError,
  type JobEnvelope,
  JobRejectedError,
  jobSigningBytes,
  stepJobId,
  type TrustConfig,
  toHex,
} from '../src/protocols/jobs/index.js'
import { type JobEvent, JobNotFoundError, type JobStatusView } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { horus } from './cli-capture.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  type MeshMember,
  runnerVisible,
  step,
  TEST_KINDS,
  testKinds,
  waitForStatus,
} from './coordinator-fixtures.js'
import { job, result, submit } from './jobs-flow-fixtures.js'
import { submissionAuthority } from './jobs-helpers.js'
import { addr, members } from './trust-fixtures.js'

const mesh = new JobMesh()
const clients: HorusClient[] = []
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
  await mesh.cleanup()
})

/** Every member trusted in every role, except the ones given their own entry. */
function trustWith(overrides: Record<string, { roles: string[]; capabilities?: string[] }>): TrustConfig {
  const keys = mesh.trust().keys.map((entry) => {
    const own = Object.entries(overrides).find(([peerId]) => peerId === entry.key)?.[1]
    return own === undefined ? entry : { ...entry, ...own }
  })
  return { keys } as TrustConfig
}

describe('job-id squatting', () => {
  it("a client that takes a victim's next step id first does not get its output into the run", async () => {
    const gates = new Gates()
    const executions = new Executions()
    const [w, c, q] = await members(mesh, 'work', 'coord', 'squatter')
    const extra = { trust: trustWith({ [q.peerId]: { roles: ['client'], capabilities: ['echo'] } }) }
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      extra,
      options: { runner: { builtins: false, kinds: testKinds(gates, executions) } },
    })
    const coord = await mesh.start(c, {
      roles: ['coordinator'],
      bootstrap: work,
      extra,
      options: { coordinator: { supervisors: [addr(work)], runnerKinds: TEST_KINDS } },
    })
    const squatter = await mesh.start(q, { roles: [], bootstrap: work, extra })
    await runnerVisible(work, 'echo')
    const coordinator = coordinatorOf(coord)
    const runId = await coordinator.submit({
      workflow: {
        name: 'victim',
        steps: [
          { id: 'a', runner: 'gate', payload: 'a' },
          {
            id: 'b',
            runner: 'echo',
            payload: 'genuine',
            depends_on: ['a'],
            retry: { max_attempts: 2, initial_delay: '10ms' },
          },
          { id: 'c', runner: 'echo', payload: 'after', depends_on: ['b'] },
        ],
      },
    })
    await waitFor(() => gates.entered.has('a'), { what: 'step a to run' })

    // The squatter signs its own job under the id of b's first attempt — with a submission of its
    // own naming the victim's run as authority, which its trust entry allows for echo — and hands
    // it in first.
    const squat = createJob(
      {
        run: runId,
        step: 'b',
        attempt: 1,
        runner: 'echo',
        payload: 'pwned',
        authority: submissionAuthority(squatter.node.trust.signer, runId),
      },
      squatter.node.trust.signer,
    )
    expect(squat.id).toBe(stepJobId(runId, 'b', 1))
    const client = mesh.client(squatter, work)
    const taken = await submit(client, squat).then(
      () => true,
      (err: unknown) => {
        // A supervisor that refuses it outright (a stricter authority check) is as good.
        expect(err).toBeInstanceOf(JobRejectedError)
        return false
      },
    )
    gates.open('a')
    const view = await waitForStatus(coordinator, runId, ['completed', 'failed', 'cancelled'])
    expect(view.status).toBe('completed')
    expect(step(view, 'b').output).toEqual({ payload: 'genuine', input: { a: { gate: 'a', input: {} } } })
    expect(step(view, 'c').output).toMatchObject({ payload: 'after', input: { b: { payload: 'genuine' } } })
    expect(JSON.stringify(view)).not.toContain('pwned')
    if (taken) {
      // The supervisor held the squatter's job under b/1: the coordinator would not follow it,
      // failed that attempt with a typed reason, counted it, and ran b/2.
      expect(coordinatorOf(coord).stats().adoptions).toEqual({
        adopted: 0,
        refused: { other_job: 0, untrusted_submitter: 1, forged: 0 },
      })
      const errors = await coordinator.errors(runId)
      expect(errors).toEqual([expect.objectContaining({ stepId: 'b', attempt: 1, name: 'JobIdTakenError' })])
      expect(step(view, 'b').attempt).toBe(2)
    }
  })

  it("nobody can take another client's ad-hoc job id", async () => {
    const [s, r, a, b] = await members(mesh, 'sup', 'run', 'alice', 'bob')
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { echo: async (j) => j.payload } } },
    })
    const [alice, bob] = [
      await mesh.start(a, { roles: [], bootstrap: sup }),
      await mesh.start(b, { roles: [], bootstrap: sup }),
    ]
    await runnerVisible(sup, 'echo', run)
    const mine = job(alice, { runner: 'echo', payload: 'alice' })
    // Bob cannot build a job under Alice's id, and one he signs by hand is refused.
    expect(() => job(bob, { runner: 'echo', id: mine.id, payload: 'bob' })).toThrow(InvalidJobError)
    const { signatures: _s, ...unsigned } = { ...job(bob, { runner: 'echo', payload: 'bob' }), id: mine.id }
    const sig = bob.node.trust.signer.sign(jobSigningBytes(canonicalJson(unsigned), []))
    const squat: JobEnvelope = {
      ...unsigned,
      signatures: [{ key: bob.node.identity.publicKeyHex, sig: toHex(sig) }],
    }
    const refused = await submit(mesh.client(bob, sup), squat).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/malformed.*submitter's namespace/)
    expect(sup.node.trust.verifier.stats().rejected.malformed).toBe(1)
    // Bob's ids live in his own namespace: both run, each reads back its own.
    const aliceClient = mesh.client(alice, sup)
    const bobsOwn = job(bob, {
      runner: 'echo',
      id: adHocJobId(bob.node.identity.publicKeyHex, 'same'),
      payload: 'bob',
    })
    const alicesOwn = job(alice, {
      runner: 'echo',
      id: adHocJobId(alice.node.identity.publicKeyHex, 'same'),
      payload: 'alice',
    })
    await submit(mesh.client(bob, sup), bobsOwn)
    await submit(aliceClient, alicesOwn)
    await submit(aliceClient, mine)
    expect((await result(aliceClient, alicesOwn.id)).result?.output).toBe('alice')
    expect((await result(aliceClient, mine.id)).result?.output).toBe('alice')
    expect((await result(mesh.client(bob, sup), bobsOwn.id)).result?.output).toBe('bob')
  })
})

describe('who reads jobs', () => {
  it('only the submitter, a coordinator for steps, and an admin see a job', async () => {
    const [s, r, a, b, adm, crd] = await members(mesh, 'sup', 'run', 'alice', 'bob', 'admin', 'coordkey')
    const extra = {
      trust: trustWith({
        [a.peerId]: { roles: ['client'], capabilities: ['*'] },
        [b.peerId]: { roles: ['client'], capabilities: ['*'] },
        [adm.peerId]: { roles: ['client', 'admin'] },
        [crd.peerId]: { roles: ['coordinator'], capabilities: ['*'] },
      }),
    }
    const sup = await mesh.start(s, { roles: ['supervisor'], extra })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      extra,
      options: {
        runner: {
          builtins: false,
          kinds: {
            echo: async (j, ctx) => {
              ctx.log(`ran ${j.payload}`)
              return j.payload
            },
          },
        },
      },
    })
    const joined = (m: MeshMember) => mesh.start(m, { roles: [], bootstrap: sup, extra })
    const [alice, bob, admin, coordKey] = [
      await joined(a),
      await joined(b),
      await joined(adm),
      await joined(crd),
    ]
    await runnerVisible(sup, 'echo', run)
    const [asAlice, asBob, asAdmin, asCoordinator] = [
      mesh.client(alice, sup),
      mesh.client(bob, sup),
      mesh.client(admin, sup),
      mesh.client(coordKey, sup),
    ]

    // Bob follows every job event he may see while Alice's job runs.
    const bobEvents: JobEvent[] = []
    const sub = asBob.subscribe<JobEvent>('supervisor.job_events', {})
    await sub.id
    const following = (async () => {
      for await (const event of sub) bobEvents.push(event)
    })()
    const secret = job(alice, { runner: 'echo', payload: 'secret' })
    await submit(asAlice, secret)
    expect((await result(asAlice, secret.id)).result?.output).toBe('secret')
    const step = createJob(
      {
        run: 'run-1',
        step: 'x',
        attempt: 1,
        runner: 'echo',
        payload: 'step',
        authority: submissionAuthority(coordKey.node.trust.signer, 'run-1'),
      },
      coordKey.node.trust.signer,
    )
    await submit(asCoordinator, step)
    await result(asCoordinator, step.id)

    for (const method of ['get_job_status', 'get_job_result', 'get_job_logs', 'cancel_job']) {
      const refused = await asBob
        .call(`supervisor.${method}`, { jobId: secret.id })
        .catch((err: unknown) => err)
      expect(refused, method).toBeInstanceOf(JobNotFoundError)
      // Step jobs are for coordinators, not for clients either.
      const notForClients = await asBob
        .call(`supervisor.${method}`, { jobId: step.id })
        .catch((e: unknown) => e)
      expect(notForClients, method).toBeInstanceOf(JobNotFoundError)
    }
    const listed = async (client: typeof asBob): Promise<string[]> =>
      (await client.call<JobStatusView[]>('supervisor.list_jobs', {})).map((j) => j.jobId)
    expect(await listed(asBob)).toEqual([])
    expect(await listed(asAlice)).toEqual([secret.id])
    expect((await listed(asAdmin)).sort()).toEqual([secret.id, step.id].sort())
    expect(await listed(asCoordinator)).toEqual([step.id])
    expect(await asAdmin.call<string[]>('supervisor.get_job_logs', { jobId: secret.id })).toEqual([
      'ran secret',
    ])
    await expect(
      asCoordinator.call('supervisor.get_job_status', { jobId: secret.id }),
    ).rejects.toBeInstanceOf(JobNotFoundError)

    // Bob's own job: his subscription delivers it, and nothing of Alice's.
    const own = job(bob, { runner: 'echo', payload: 'bob' })
    await submit(asBob, own)
    await waitFor(() => bobEvents.some((e) => e.jobId === own.id && e.status === 'succeeded'), {
      what: "Bob to hear his own job's events",
    })
    await sub.unsubscribe()
    await following
    expect(bobEvents.every((e) => e.jobId === own.id)).toBe(true)
  })
})

describe("a runner's refusal", () => {
  it('is recorded on the job at once and fails it when every runner refused, with the reasons', async () => {
    const [s, r1, r2, l] = await members(mesh, 'sup', 'strict', 'narrow', 'limited')
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const kinds = { echo: async () => 'ran', other: async () => 'ran' }
    // One runner does not know the client; the other trusts it for echo only.
    const strict = await mesh.start(r1, {
      roles: ['runner'],
      bootstrap: sup,
      extra: { trust: { keys: mesh.trust().keys.filter((entry) => entry.key !== l.peerId) } },
      options: { runner: { builtins: false, kinds } },
    })
    const narrow = await mesh.start(r2, {
      roles: ['runner'],
      bootstrap: sup,
      extra: { trust: trustWith({ [l.peerId]: { roles: ['client'], capabilities: ['echo'] } }) },
      options: { runner: { builtins: false, kinds } },
    })
    await runnerVisible(sup, 'other', strict)
    await runnerVisible(sup, 'other', narrow)
    const client = await HorusClient.connect({ bootstrap: [addr(sup)], identity: l.dataDir })
    clients.push(client)

    const created = await client.createJob({ runner: 'other', payload: 'x' })
    const view = await client.waitForJob(created.jobId)
    expect(view).toMatchObject({ status: 'failed', error: { name: 'JobRefusedError' } })
    expect(view.error?.message).toMatch(/every runner for capability "other" refused the job/)
    expect(view.refusals?.map((x) => x.runner).sort()).toEqual([strict.peerId, narrow.peerId].sort())
    const reasons = Object.fromEntries((view.refusals ?? []).map((x) => [x.runner, x.reason]))
    expect(reasons[strict.peerId]).toMatch(/untrusted_key/)
    expect(reasons[narrow.peerId]).toMatch(/capability_denied/)
    expect((await client.getJobStatus(created.jobId)).refusals).toHaveLength(2)
    expect(sup.roles.supervisor?.stats().refusedJobs).toBe(1)

    // The CLI shows the same: `job create --wait` exits 1 naming each runner's refusal.
    const cli = await horus([
      'job',
      'create',
      '--runner',
      'other',
      '--payload',
      'y',
      '--wait',
      '--peer',
      addr(sup),
      '--data-dir',
      l.dataDir,
    ])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain('JobRefusedError')
    expect(cli.stdout).toContain(`refused by runner ${strict.peerId}: `)
    expect(cli.stdout).toContain(`refused by runner ${narrow.peerId}: `)
    // A job both trust the client for runs.
    const fine = await client.createJob({ runner: 'echo', payload: 'ok' })
    expect((await client.waitForJob(fine.jobId)).result?.output).toBe('ran')
  })
})
