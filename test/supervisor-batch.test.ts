/**
 * The batch path: `supervisor.create_jobs` verifies every job of a batch on its own (a forged one
 * is refused alone, with its reason), caps the batch size, and the SDK sends concurrent
 * `createJob` calls through it without the caller noticing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HorusClient, NoRunnerError } from '../src/client/index.js'
import { adHocJobId, createJob, type JobEnvelope } from '../src/protocols/jobs/index.js'
import { InvalidParamsError } from '../src/protocols/rpc/index.js'
import { MAX_JOBS_PER_BATCH } from '../src/roles/supervisor/constants.js'
import type { CreateJobsItem } from '../src/roles/supervisor/methods.js'
import { ClientMesh, ECHO_RUNNER, runnerVisible } from './client-mesh.js'
import { JobMesh, job, result, startRogueMesh } from './jobs-flow-fixtures.js'

const jobMesh = new JobMesh()
const clientMesh = new ClientMesh()
const clients: HorusClient[] = []
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
  await Promise.allSettled([jobMesh.cleanup(), clientMesh.cleanup()])
})

describe('supervisor.create_jobs', () => {
  it('refuses a forged or foreign job of a batch alone, with its reason, and runs the rest', async () => {
    const { sup, cli, rogue, executed } = await startRogueMesh(jobMesh)
    const client = jobMesh.client(cli, sup)

    const good = [job(cli, { runner: 'work', payload: 'a' }), job(cli, { runner: 'work', payload: 'b' })]
    const [first, second] = good as [JobEnvelope, JobEnvelope]
    const forged: JobEnvelope = { ...first, id: adHocJobId(first.submitter, 'forged'), payload: 'evil' }
    const foreign = createJob({ runner: 'work', payload: 'x' }, rogue.node.trust.signer)
    const { results } = await client.call<{ results: CreateJobsItem[] }>('supervisor.create_jobs', {
      jobs: [first, forged, second, foreign],
    })
    expect(results.map((item) => item.ok)).toEqual([true, false, true, false])
    const refused = results.filter((item) => !item.ok) as Array<Extract<CreateJobsItem, { ok: false }>>
    expect(refused[0]?.error).toMatchObject({ data: { name: 'JobRejectedError' } })
    expect(refused[0]?.error.message).toMatch(/bad_signature/)
    expect(refused[1]?.error.message).toMatch(/untrusted_key/)
    expect((results[0] as Extract<CreateJobsItem, { ok: true }>).job.jobId).toBe(first.id)

    for (const j of good) expect((await result(client, j.id)).status).toBe('succeeded')
    expect(executed.sort()).toEqual(good.map((j) => j.id).sort())
    expect(sup.node.trust.verifier.stats().rejected.bad_signature).toBeGreaterThanOrEqual(1)

    // The same batch again: the good jobs answer their records; nothing runs twice.
    const again = await client.call<{ results: CreateJobsItem[] }>('supervisor.create_jobs', { jobs: good })
    expect(again.results.every((item) => item.ok)).toBe(true)
    expect(executed).toHaveLength(2)

    // Over the cap: refused as a whole, saying what is wrong, before any job is looked at.
    const tooMany = Array.from({ length: MAX_JOBS_PER_BATCH + 1 }, () => first)
    const oversized = await client.call('supervisor.create_jobs', { jobs: tooMany }).catch((e: unknown) => e)
    expect(oversized).toBeInstanceOf(InvalidParamsError)
    expect((oversized as Error).message).toMatch(new RegExp(`jobs.*${MAX_JOBS_PER_BATCH}`))
  })
})

describe('HorusClient.createJob batching', () => {
  it('sends concurrent createJob calls as create_jobs batches; each caller gets its own answer or error', async () => {
    const [s, r, me] = [
      await clientMesh.member('sup'),
      await clientMesh.member('run'),
      await clientMesh.member('sdk'),
    ]
    const sup = await clientMesh.start(s, { roles: ['supervisor'] })
    await clientMesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
    await runnerVisible(sup, 'echo')
    const client = await HorusClient.connect({ bootstrap: [sup.addr], identity: me.dataDir })
    clients.push(client)
    const batched = sup.node.rpc.get('supervisor.create_jobs')
    const single = sup.node.rpc.get('supervisor.create_job')
    if (batched?.kind !== 'call' || single?.kind !== 'call') throw new Error('supervisor methods missing')
    const batchCalls = vi.spyOn(batched.def, 'handler')
    const singleCalls = vi.spyOn(single.def, 'handler')

    // 300 in one turn: two batches (the cap is 256); one job asks for a capability nobody serves.
    const specs = Array.from({ length: 300 }, (_, i) => ({
      runner: i === 7 ? 'nobody' : 'echo',
      payload: `${i}`,
    }))
    const settled = await Promise.allSettled(specs.map((spec) => client.createJob(spec)))
    expect(batchCalls).toHaveBeenCalledTimes(2)
    expect(singleCalls).not.toHaveBeenCalled()
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [[i, s.reason] as const] : []))
    expect(failed).toHaveLength(1)
    expect(failed[0]?.[0]).toBe(7)
    expect(failed[0]?.[1]).toBeInstanceOf(NoRunnerError)
    const accepted = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    expect(new Set(accepted.map((v) => v.jobId)).size).toBe(299)
    const outcomes = await Promise.all(accepted.slice(0, 20).map((v) => client.waitForJob(v.jobId)))
    expect(outcomes.every((o) => o.status === 'succeeded')).toBe(true)

    // One at a time: plain create_job, as before.
    await client.createJob({ runner: 'echo', payload: 'alone' })
    expect(singleCalls).toHaveBeenCalledTimes(1)
    expect(batchCalls).toHaveBeenCalledTimes(2)
  })
})
