/**
 * `supervisor.job_outcomes` and `waitForJob` on it: a client hears the outcomes of its own jobs
 * only, several to a notification; the SDK waits on the stream for jobs created once it was live,
 * verifies each result itself, and falls back to the held `get_job_result` call for the rest and
 * when the stream drops mid-wait — no wait is lost or left hanging.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HorusClient } from '../src/client/index.js'
import { InvalidParamsError, RpcError } from '../src/protocols/rpc/index.js'
import type { JobResultView } from '../src/roles/supervisor/index.js'
import type { CreateJobsItem, JobOutcomes } from '../src/roles/supervisor/methods.js'
import { waitFor } from '../src/testing/index.js'
import { ClientMesh, runnerVisible as sdkRunnerVisible } from './client-mesh.js'
import { Gates } from './coordinator-fixtures.js'
import { JobMesh, job, result, runnerVisible } from './jobs-flow-fixtures.js'

const jobMesh = new JobMesh()
const clientMesh = new ClientMesh()
const clients: HorusClient[] = []
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
  await Promise.allSettled([jobMesh.cleanup(), clientMesh.cleanup()])
})

describe('supervisor.job_outcomes', () => {
  it("sends a caller the outcomes of its own jobs only, several to a notification, never another client's", async () => {
    const [s, r, a, b] = [
      await jobMesh.member('sup'),
      await jobMesh.member('run'),
      await jobMesh.member('alice'),
      await jobMesh.member('bob'),
    ]
    const sup = await jobMesh.start(s, { roles: ['supervisor'] })
    const run = await jobMesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { work: async (j) => ({ done: j.payload }) } } },
    })
    const alice = await jobMesh.start(a, { roles: [], bootstrap: sup })
    const bob = await jobMesh.start(b, { roles: [], bootstrap: sup })
    const rogue = await jobMesh.start(await jobMesh.member('rogue'), { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', run)
    const [toSupA, toSupB, toSupRogue] = [alice, bob, rogue].map((m) => jobMesh.client(m, sup)) as [
      ReturnType<typeof jobMesh.client>,
      ReturnType<typeof jobMesh.client>,
      ReturnType<typeof jobMesh.client>,
    ]

    // Asking for someone else's job by id is not a parameter it takes; a key no policy lists is refused.
    const byId = toSupB.subscribe('supervisor.job_outcomes', { jobId: 'x' })
    await expect(byId.id).rejects.toBeInstanceOf(InvalidParamsError)
    const refused = toSupRogue.subscribe('supervisor.job_outcomes', {})
    await expect(refused.id).rejects.toBeInstanceOf(RpcError)

    const heard = { alice: [] as JobOutcomes[], bob: [] as JobOutcomes[] }
    for (const [name, client] of [
      ['alice', toSupA],
      ['bob', toSupB],
    ] as const) {
      const sub = client.subscribe<JobOutcomes>('supervisor.job_outcomes', {})
      await sub.id
      void (async () => {
        for await (const event of sub) heard[name].push(event)
      })().catch(() => {})
    }

    // Alice's jobs go in one batch, so they finish close together; Bob's one job beside them.
    const mine = Array.from({ length: 12 }, (_, i) => job(alice, { runner: 'work', payload: `a${i}` }))
    const theirs = job(bob, { runner: 'work', payload: 'b' })
    const { results } = await toSupA.call<{ results: CreateJobsItem[] }>('supervisor.create_jobs', {
      jobs: mine,
    })
    expect(results.every((item) => item.ok)).toBe(true)
    await toSupB.call('supervisor.create_job', { job: theirs })
    // Bob may relay Alice's envelope: still hers, so its outcome is not sent to him.
    const relayed = job(alice, { runner: 'work', payload: 'relayed' })
    await toSupB.call('supervisor.create_job', { job: relayed })

    const idsOf = (events: JobOutcomes[]): string[] => events.flatMap((e) => e.events.map((v) => v.jobId))
    const aliceJobs = [...mine, relayed].map((j) => j.id)
    await waitFor(() => aliceJobs.every((id) => idsOf(heard.alice).includes(id)), {
      what: "alice's outcomes",
    })
    await waitFor(() => idsOf(heard.bob).includes(theirs.id), { what: "bob's outcome" })
    // Every outcome is sent once, terminal, with the runner's signed result bound to its job.
    expect(idsOf(heard.alice).sort()).toEqual([...aliceJobs].sort())
    const views = heard.alice.flatMap((e) => e.events)
    expect(views.every((v) => v.status === 'succeeded' && v.result?.jobId === v.jobId)).toBe(true)
    expect(views.every((v) => v.runner === run.peerId)).toBe(true)
    // Outcomes of one moment travel together: fewer notifications than jobs.
    expect(heard.alice.length).toBeLessThan(aliceJobs.length)
    expect(idsOf(heard.bob)).toEqual([theirs.id])
    // The held call still answers the same outcome.
    expect((await result(toSupA, mine[0]?.id as string)).result).toEqual(
      views.find((v) => v.jobId === mine[0]?.id)?.result,
    )
  })
})

describe('HorusClient.waitForJob on the outcome stream', () => {
  async function start(): Promise<{
    client: HorusClient
    sup: Awaited<ReturnType<ClientMesh['start']>>
    gates: Gates
  }> {
    const gates = new Gates()
    const [s, r, me] = [
      await clientMesh.member('sup'),
      await clientMesh.member('run'),
      await clientMesh.member('sdk'),
    ]
    const sup = await clientMesh.start(s, { roles: ['supervisor'] })
    await clientMesh.start(r, {
      roles: ['runner'],
      bootstrap: [sup],
      options: {
        runner: {
          builtins: false,
          kinds: {
            gated: async (j, ctx) => {
              if (j.payload.startsWith('held')) await gates.wait(j.payload, ctx.signal)
              return { done: j.payload }
            },
          },
        },
      },
    })
    await sdkRunnerVisible(sup, 'gated')
    const client = await HorusClient.connect({ bootstrap: [sup.addr], identity: me.dataDir })
    clients.push(client)
    return { client, sup, gates }
  }

  it('answers jobs created once the stream is live from it, and verifies each result itself', async () => {
    const { client, sup } = await start()
    const held = sup.node.rpc.get('supervisor.get_job_result')
    if (held?.kind !== 'call') throw new Error('supervisor.get_job_result missing')
    const heldCalls = vi.spyOn(held.def, 'handler')

    // The first job opens the stream; it was created before, so it is asked for.
    const first = await client.createJob({ runner: 'gated', payload: 'first' })
    expect((await client.waitForJob(first.jobId)).status).toBe('succeeded')
    expect(heldCalls).toHaveBeenCalledTimes(1)
    await waitFor(() => sup.node.rpcServer.subscriptionCount >= 1, { what: 'the outcome stream' })

    const views = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const created = await client.createJob({ runner: 'gated', payload: `p${i}` })
        return client.waitForJob(created.jobId)
      }),
    )
    expect(views.map((v) => v.status)).toEqual(Array(40).fill('succeeded'))
    expect(views.map((v) => v.result?.output)).toEqual(views.map((_, i) => ({ done: `p${i}` })))
    expect(heldCalls).toHaveBeenCalledTimes(1)
    // A job already finished when it is awaited comes from what the stream delivered.
    const early = await client.createJob({ runner: 'gated', payload: 'early' })
    await waitFor(async () => (await client.getJobStatus(early.jobId)).status === 'succeeded', {
      what: 'the job to finish',
    })
    heldCalls.mockClear()
    expect((await client.waitForJob(early.jobId)).result?.output).toEqual({ done: 'early' })
    expect(heldCalls).not.toHaveBeenCalled()
  })

  it('falls back to the held call when the stream drops mid-wait, losing no wait', async () => {
    const { client, sup, gates } = await start()
    const warm = await client.createJob({ runner: 'gated', payload: 'warm' })
    await client.waitForJob(warm.jobId)
    await waitFor(() => sup.node.rpcServer.subscriptionCount >= 1, { what: 'the outcome stream' })
    const held = sup.node.rpc.get('supervisor.get_job_result')
    if (held?.kind !== 'call') throw new Error('supervisor.get_job_result missing')
    const heldCalls = vi.spyOn(held.def, 'handler')

    const jobs = await Promise.all(
      ['held-1', 'held-2', 'held-3'].map((payload) => client.createJob({ runner: 'gated', payload })),
    )
    const waits = jobs.map((j) => client.waitForJob(j.jobId))
    await waitFor(() => ['held-1', 'held-2', 'held-3'].every((p) => gates.entered.has(p)), {
      what: 'the held jobs to run',
    })
    expect(heldCalls).not.toHaveBeenCalled()

    // The supervisor drops the client's connection: the stream (and its session) is gone.
    await sup.node.libp2p.hangUp(peerIdFromString(client.peerId))
    await waitFor(() => heldCalls.mock.calls.length >= 3, { what: 'the waits to fall back to asking' })
    expect(sup.node.rpcServer.subscriptionCount).toBe(0)
    gates.open('held-1')
    gates.open('held-2')
    gates.open('held-3')
    const views: JobResultView[] = await Promise.all(waits)
    expect(views.map((v) => v.result?.output)).toEqual([
      { done: 'held-1' },
      { done: 'held-2' },
      { done: 'held-3' },
    ])

    // The next job reopens the stream; the one after it is answered from it again.
    const next = await client.createJob({ runner: 'gated', payload: 'next' })
    await client.waitForJob(next.jobId)
    await waitFor(() => sup.node.rpcServer.subscriptionCount >= 1, { what: 'the stream to reopen' })
    heldCalls.mockClear()
    const after = await client.createJob({ runner: 'gated', payload: 'after' })
    expect((await client.waitForJob(after.jobId)).status).toBe('succeeded')
    expect(heldCalls).not.toHaveBeenCalled()
  })
})
