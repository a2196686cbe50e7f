/**
 * Defect: the client was told "failed" for work that was accepted. Under load (50 concurrent
 * createJob calls) one failed call closed the session every other call was using, and a call
 * whose request had reached the supervisor ended as NoProviderError("none found") — while the job
 * ran. Now an answer lost after sending is either retried where that is safe (a job is idempotent
 * on its supervisor by its signed envelope) or reported as OutcomeUnknownError naming the job.
 * The session cuts are injected by hanging up the client's connection from the node right after
 * the node accepted the work.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { HorusClient, NoProviderError, OutcomeUnknownError } from '../src/client/index.js'
import type { SupervisorService } from '../src/roles/supervisor/index.js'
import { ClientMesh, ECHO_RUNNER, hears, type Running, runnerVisible } from './client-mesh.js'

const mesh = new ClientMesh()
const clients: HorusClient[] = []
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
  await mesh.cleanup()
})

async function setup(roles: Array<'supervisor' | 'coordinator'> = ['supervisor']) {
  const [s, r, me] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('sdk')]
  const sup = await mesh.start(s, { roles })
  const run = await mesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
  await runnerVisible(sup, 'echo')
  await hears(run, [sup])
  const client = await HorusClient.connect({ bootstrap: [sup.addr], identity: me.dataDir })
  clients.push(client)
  return { sup, client }
}

/** The next `times` accepted jobs: the node hangs up on the client once the job is on disk. */
function cutAfterAccept(sup: Running, client: HorusClient, times: number): string[] {
  const service = sup.roles.supervisor as SupervisorService
  const original = service.submit.bind(service)
  const cut: string[] = []
  service.submit = async (...args: Parameters<SupervisorService['submit']>) => {
    const record = await original(...args)
    if (cut.length < times) {
      cut.push(record.job.id)
      await sup.node.libp2p.hangUp(peerIdFromString(client.peerId))
    }
    return record
  }
  return cut
}

describe('ambiguous outcomes', () => {
  it('re-sends a job whose answer was lost to the same supervisor and gets the same record', async () => {
    const { sup, client } = await setup()
    const cut = cutAfterAccept(sup, client, 1)
    const accepted = await client.createJob({ runner: 'echo', payload: 'once' })
    expect(cut).toEqual([accepted.jobId])
    const outcome = await client.waitForJob(accepted.jobId, { signal: AbortSignal.timeout(15_000) })
    expect(outcome.result?.output).toEqual({ payload: 'once', input: {} })
    // One record on the supervisor: the resend was recognised, not run again.
    const jobs = sup.roles.supervisor?.list() ?? []
    expect(jobs.map((j) => j.job.id)).toEqual([accepted.jobId])
  })

  it('says OutcomeUnknownError with the job id when the supervisor keeps losing the answer', async () => {
    const { sup, client } = await setup()
    const cut = cutAfterAccept(sup, client, 100)
    const err = await client.createJob({ runner: 'echo', payload: 'lost' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OutcomeUnknownError)
    expect(err).not.toBeInstanceOf(NoProviderError)
    const jobId = (err as OutcomeUnknownError).jobId as string
    expect(cut[0]).toBe(jobId)
    expect((err as Error).message).toContain(`job ${jobId} may or may not have been accepted`)
    // It was accepted: the caller can look it up, and it ran.
    const service = sup.roles.supervisor as SupervisorService
    service.submit = Object.getPrototypeOf(service).submit.bind(service)
    const outcome = await client.waitForJob(jobId, { signal: AbortSignal.timeout(15_000) })
    expect(outcome.status).toBe('succeeded')
  })

  it('reports a workflow submission whose answer was lost as OutcomeUnknownError, not a failure', async () => {
    const { sup, client } = await setup(['supervisor', 'coordinator'])
    const coordinator = sup.roles.coordinator
    if (coordinator === undefined) throw new Error('no coordinator')
    const original = coordinator.submit.bind(coordinator)
    let created: string | undefined
    coordinator.submit = async (...args: Parameters<typeof original>) => {
      created = await original(...args)
      await sup.node.libp2p.hangUp(peerIdFromString(client.peerId))
      return created
    }
    const err = await client
      .submitWorkflow({ workflow: { name: 'w', steps: [{ id: 'a', runner: 'echo', payload: 'x' }] } })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OutcomeUnknownError)
    expect((err as OutcomeUnknownError).method).toBe('coordinator.submit_workflow')
    expect(created).toBeDefined()
  })

  it('gives every one of 1,000 concurrent job submissions an answer, each job recorded once', async () => {
    const { sup, client } = await setup()
    const total = 1_000
    const failures: string[] = []
    const ids: string[] = []
    let next = 0
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < total) {
          next++
          try {
            ids.push((await client.createJob({ runner: 'echo', payload: 'load' })).jobId)
          } catch (err) {
            failures.push(`${(err as Error).name}: ${(err as Error).message}`)
          }
        }
      }),
    )
    expect(failures).toEqual([])
    expect(new Set(ids).size).toBe(total)
    expect(sup.roles.supervisor?.list().length).toBe(total)
  })
})
