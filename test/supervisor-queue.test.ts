/**
 * The supervisor's admission and lifecycle, as a client sees them: waiting with a reason when no
 * runner serves the capability, running as soon as one appears, refusing what does not verify,
 * idempotence by id, cancellation, and the status events.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  adHocJobId,
  createJob,
  generateSigner,
  JobRejectedError,
  stepJobId,
} from '../src/protocols/jobs/index.js'
import type { KindHandler } from '../src/roles/runner/index.js'
import {
  type JobEvent,
  JobIdConflictError,
  type JobStatusView,
  NoRunnerError,
} from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'
import { submissionAuthority } from './jobs-helpers.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

async function setup() {
  const [s, r, r2, c] = [
    await mesh.member('sup'),
    await mesh.member('run'),
    await mesh.member('run2'),
    await mesh.member('cli'),
  ]
  // Every member is made before the supervisor starts, so its policy trusts them all.
  const sup = await mesh.start(s, { roles: ['supervisor'] })
  const cli = await mesh.start(c, { roles: [], bootstrap: sup })
  return { sup, cli, runner: r, runner2: r2, client: mesh.client(cli, sup) }
}

/** A node with supervisor and runner roles whose runner counts the `once` jobs it runs, and a client of it. */
async function nodeWithBothRoles() {
  const [a, c] = [await mesh.member('both'), await mesh.member('cli')]
  let runs = 0
  const once: KindHandler = async () => {
    runs++
    return 'ran'
  }
  const both = await mesh.start(a, {
    roles: ['supervisor', 'runner'],
    options: { runner: { builtins: false, kinds: { once } } },
  })
  const cli = await mesh.start(c, { roles: [], bootstrap: both })
  return { both, cli, client: mesh.client(cli, both), runs: () => runs }
}

describe('supervisor queueing and lifecycle', () => {
  it('refuses a job no runner can run at once (no_runner), unless asked to wait for one', async () => {
    const { sup, cli, runner, runner2: r2, client } = await setup()
    await mesh.start(runner, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { echo: async () => 'echo', noop: async () => null } } },
    })
    await runnerVisible(sup, 'echo')
    const envelope = job(cli, { runner: 'python' })
    const started = Date.now()
    const refused = await submit(client, envelope).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(NoRunnerError)
    expect((refused as Error).message).toBe(
      'no_runner: no live runner offers capability "python" (available: echo, noop); send it with waitForRunner to queue it until one appears',
    )
    expect((refused as { code: string }).code).toBe('NO_RUNNER')
    expect(Date.now() - started).toBeLessThan(10_000)
    // Nothing was recorded: the same envelope is accepted when the caller says it will wait.
    expect(await client.call<JobStatusView[]>('supervisor.list_jobs', {})).toEqual([])
    const queued = await submit(client, envelope, { waitForRunner: true })
    expect(queued).toMatchObject({ status: 'queued' })
    await mesh.start(r2, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { python: async () => 'snake' } } },
    })
    expect((await result(client, envelope.id)).result?.output).toBe('snake')
  })

  it('keeps a job queued with a reason while no runner serves it, and runs it when one appears', async () => {
    const { sup, cli, runner, client } = await setup()
    const envelope = job(cli, { runner: 'late' })
    const ack = await submit(client, envelope, { waitForRunner: true })
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

  it('takes a job its node’s runner runs for another supervisor only to that runner, even with another runner free', async () => {
    const [a, b, r2, c] = [
      await mesh.member('both'),
      await mesh.member('other'),
      await mesh.member('run2'),
      await mesh.member('cli'),
    ]
    let release = (): void => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const runs: string[] = []
    const slow =
      (name: string): KindHandler =>
      async () => {
        runs.push(name)
        await held
        return `ran on ${name}`
      }
    // One slot, which the job itself takes: to a supervisor free to choose, the other runner looks better.
    const both = await mesh.start(a, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, concurrency: 1, kinds: { slow: slow('both') } } },
    })
    const other = await mesh.start(b, { roles: ['supervisor'], bootstrap: both })
    const cli = await mesh.start(c, { roles: [], bootstrap: both })
    try {
      await runnerVisible(other, 'slow')
      const envelope = job(cli, { runner: 'slow' })
      const viaOther = mesh.client(cli, other)
      await submit(viaOther, envelope)
      await waitFor(() => runs.length === 1, { what: 'the job to start on the node with both roles' })
      const second = await mesh.start(r2, {
        roles: ['runner'],
        bootstrap: both,
        options: { runner: { builtins: false, kinds: { slow: slow('run2') } } },
      })
      await runnerVisible(both, 'slow', second)

      // The same envelope sent to the supervisor beside that runner (a coordinator that lost the
      // first supervisor does this): its nonce is spent there and no record of it is, so it goes to
      // that runner alone, which answers with the execution it has.
      const viaBoth = mesh.client(cli, both)
      await submit(viaBoth, envelope)
      release()
      expect((await result(viaBoth, envelope.id)).result?.output).toBe('ran on both')
      expect((await result(viaOther, envelope.id)).result?.output).toBe('ran on both')
      expect(runs).toEqual(['both'])
    } finally {
      release()
    }
  })

  it('refuses a job whose nonce its node spent when the node’s runner holds no execution of it', async () => {
    const { both, cli, client, runs } = await nodeWithBothRoles()
    const envelope = job(cli, { runner: 'once' })
    // Spent as a runner of this node spends it for another supervisor (or as a pruned record
    // leaves it): nothing here runs it or keeps its result, so taking it could only run it again.
    expect((await both.node.trust.verifier.verify(envelope)).ok).toBe(true)
    const refused = await submit(client, envelope).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/replayed/)
    expect(await client.call<JobStatusView[]>('supervisor.list_jobs', {})).toEqual([])
    expect(runs()).toBe(0)
  })

  it('fails a pinned job whose execution its runner no longer has when asked, without running it', async () => {
    const { both, cli, client, runs } = await nodeWithBothRoles()
    const runner = both.roles.runner
    if (runner === undefined) throw new Error('no runner role')
    const envelope = job(cli, { runner: 'once' })
    expect((await both.node.trust.verifier.verify(envelope)).ok).toBe(true)
    // The runner had the execution when the supervisor asked, and lost it before the dispatch
    // (its result swept, its role restarted): what the window between the two can leave.
    runner.holds = async () => true
    await submit(client, envelope)
    const answer = await result(client, envelope.id)
    expect(answer).toMatchObject({ status: 'failed' })
    expect(answer.error).toMatchObject({ name: 'JobOutcomeUnknownError', retryable: true })
    expect(runs()).toBe(0)
  })

  it('refuses jobs that do not verify and ids taken by another job, persisting nothing for them', async () => {
    const { cli, client } = await setup()
    const stranger = createJob({ runner: 'sal', payload: '1' }, generateSigner())
    const refused = await submit(client, stranger).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/untrusted_key/)

    const fixedId = adHocJobId(cli.node.identity.publicKeyHex, 'fixed-id')
    const first = job(cli, { runner: 'sal', id: fixedId })
    await submit(client, first, { waitForRunner: true })
    const other = job(cli, { runner: 'sal', id: fixedId })
    await expect(submit(client, other, { waitForRunner: true })).rejects.toBeInstanceOf(JobIdConflictError)
    const listed = await client.call<JobStatusView[]>('supervisor.list_jobs', {})
    expect(listed.map((j) => j.jobId)).toEqual([fixedId])
    expect(await client.call<JobStatusView[]>('supervisor.list_jobs', { status: 'succeeded' })).toEqual([])
  })

  it('holds a step job id for the coordinator that looked for it, refusing the previous owner’s late envelope', async () => {
    // Both trusted as coordinators: `cli` owned the run and was cut off, `next` took the step over.
    const [s, c, n] = [await mesh.member('sup'), await mesh.member('cli'), await mesh.member('next')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    const next = await mesh.start(n, { roles: [], bootstrap: sup })
    const client = mesh.client(cli, sup)
    const nextClient = mesh.client(next, sup)
    const run = 'run-late'
    const id = stepJobId(run, 'b', 1)
    const step = (signer: typeof cli) =>
      job(signer, {
        run,
        step: 'b',
        attempt: 1,
        runner: 'sal',
        payload: 'x',
        authority: submissionAuthority(signer.node.trust.signer, run),
      })
    // The taker looks for the job (reserving its id); this supervisor does not have it.
    await expect(
      nextClient.call('supervisor.get_job_result', { jobId: id, includeJob: true, reserve: true }),
    ).rejects.toThrow(/no job/)
    // The previous owner's envelope, sent before the takeover, arrives now: refused.
    const late = await submit(client, step(cli), { waitForRunner: true }).catch((err: unknown) => err)
    expect(late).toBeInstanceOf(JobIdConflictError)
    expect((late as Error).message).toMatch(/held for coordinator .* which took the step over/)
    // The taker's own envelope of that id is taken, and the id is free of its hold from then on.
    expect((await submit(nextClient, step(next), { waitForRunner: true })).jobId).toBe(id)
    const listed = await client.call<JobStatusView[]>('supervisor.list_jobs', {})
    expect(listed.map((j) => j.jobId)).toEqual([id])
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
    // `running` comes when the runner starts the job, before its work dir exists and its handler
    // logs: the line must have reached the supervisor before the cancel for it to be kept.
    await waitFor(
      async () =>
        (await client.call<string[]>('supervisor.get_job_logs', { jobId: envelope.id })).length === 1,
      { what: 'the job to log its line' },
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
