/**
 * The supervisor's admission and lifecycle, as a client sees them: waiting with a reason when no
 * runner serves the capability, running as soon as one appears, refusing what does not verify,
 * idempotence by id, cancellation, and the status events.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { adHocJobId, createJob, generateSigner, JobRejectedError } from '../src/protocols/jobs/index.js'
import type { KindHandler } from '../src/roles/runner/index.js'
import { type JobEvent, JobIdConflictError, type JobStatusView } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

async function setup() {
  const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
  const sup = await mesh.start(s, { roles: ['supervisor'] })
  const cli = await mesh.start(c, { roles: [], bootstrap: sup })
  return { sup, cli, runner: r, client: mesh.client(cli, sup) }
}

describe('supervisor queueing and lifecycle', () => {
  it('keeps a job queued with a reason while no runner serves it, and runs it when one appears', async () => {
    const { sup, cli, runner, client } = await setup()
    const envelope = job(cli, { runner: 'late' })
    const ack = await submit(client, envelope)
    expect(ack.status).toBe('queued')
    const waiting = await client.call<JobStatusView>('supervisor.get_job_status', { jobId: envelope.id })
    expect(waiting).toMatchObject({ status: 'queued', reason: 'no runner for capability "late"' })
    const pending = await client.call<{ status: string; result?: unknown }>('supervisor.get_job_result', {
      jobId: envelope.id,
    })
    expect(pending).toEqual({
      jobId: envelope.id,
      status: 'queued',
      reason: 'no runner for capability "late"',
    })

    const run = await mesh.start(runner, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { late: async () => 'ran late' } } },
    })
    const answer = await result(client, envelope.id)
    expect(answer).toMatchObject({ status: 'succeeded', runner: run.peerId })
    expect(answer.result?.output).toBe('ran late')
  })

  it('refuses jobs that do not verify and ids taken by another job, persisting nothing for them', async () => {
    const { cli, client } = await setup()
    const stranger = createJob({ runner: 'sal', payload: '1' }, generateSigner())
    const refused = await submit(client, stranger).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/untrusted_key/)

    const fixedId = adHocJobId(cli.node.identity.publicKeyHex, 'fixed-id')
    const first = job(cli, { runner: 'sal', id: fixedId })
    await submit(client, first)
    const other = job(cli, { runner: 'sal', id: fixedId })
    await expect(submit(client, other)).rejects.toBeInstanceOf(JobIdConflictError)
    const listed = await client.call<JobStatusView[]>('supervisor.list_jobs', {})
    expect(listed.map((j) => j.jobId)).toEqual([fixedId])
    expect(await client.call<JobStatusView[]>('supervisor.list_jobs', { status: 'succeeded' })).toEqual([])
  })

  it('cancels a running job (the runner stops it) and reports every status change as an event', async () => {
    const { sup, cli, runner, client } = await setup()
    let aborted = false
    const hang: KindHandler = (_job, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.log('waiting')
        ctx.signal.addEventListener('abort', () => {
          aborted = true
          reject(ctx.signal.reason)
        })
      })
    const run = await mesh.start(runner, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { hang } } },
    })
    await runnerVisible(sup, 'hang', run)
    const envelope = job(cli, { runner: 'hang' })
    const events = client.subscribe<JobEvent>('supervisor.job_events', { jobId: envelope.id })
    await events.id
    await submit(client, envelope)
    await waitFor(
      async () =>
        (await client.call<JobStatusView>('supervisor.get_job_status', { jobId: envelope.id })).status ===
        'running',
      { what: 'the job to run' },
    )
    const cancelled = await client.call<JobStatusView>('supervisor.cancel_job', { jobId: envelope.id })
    expect(cancelled.status).toBe('cancelled')
    await waitFor(() => aborted, { what: 'the runner to abort the job' })
    const statuses: string[] = []
    for await (const event of events) {
      statuses.push(event.status)
      if (event.status === 'cancelled') break
    }
    expect(statuses).toEqual(['queued', 'dispatched', 'running', 'cancelled'])
    expect(await client.call('supervisor.get_job_logs', { jobId: envelope.id })).toEqual(['waiting'])
    const final = await result(client, envelope.id)
    expect(final).toMatchObject({ status: 'cancelled', error: { name: 'JobCancelledError' } })
  })
})
