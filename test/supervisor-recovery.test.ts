/**
 * Acceptance 3 and 4 with in-process nodes: a runner that disappears mid-job, and a supervisor
 * restarted from its data dir with jobs queued and running.
 */
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { JobRejectedError } from '../src/protocols/jobs/index.js'
import type { KindHandler } from '../src/roles/runner/index.js'
import { JOBS_PREFIX } from '../src/roles/supervisor/constants.js'
import { JobNotFoundError, SupervisorNotRunningError } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

/** A kind whose jobs wait until the test opens the gate (or the job is aborted). */
function gate(): { kind: KindHandler; open(): void; runs: string[] } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  const runs: string[] = []
  const kind: KindHandler = async (j, ctx) => {
    runs.push(j.id)
    await new Promise<void>((resolve, reject) => {
      opened.then(resolve, reject)
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
    })
    return { done: j.id }
  }
  return { kind, open, runs }
}

describe('supervisor recovery', () => {
  it('moves a job to another runner when its runner is killed mid-job', async () => {
    const [s, a, b, c] = [
      await mesh.member('sup'),
      await mesh.member('runA'),
      await mesh.member('runB'),
      await mesh.member('cli'),
    ]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const hang = gate()
    const runA = await mesh.start(a, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { work: hang.kind } } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', runA)
    const client = mesh.client(cli, sup)
    const envelope = job(cli, { runner: 'work', timeoutMs: 30_000 })
    await submit(client, envelope)
    await waitFor(
      async () =>
        (await client.call<{ status: string }>('supervisor.get_job_status', { jobId: envelope.id }))
          .status === 'running',
      { what: 'the job to run on runner A' },
    )
    // "running" is reported when the executor starts the job, a moment before the handler runs.
    await waitFor(() => hang.runs.length > 0, { what: 'runner A to enter the handler' })
    expect(hang.runs).toEqual([envelope.id])

    const runB = await mesh.start(b, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { work: async () => 'finished by B' } } },
    })
    await runnerVisible(sup, 'work', runB)
    // A crash, not a shutdown: the transport goes away under the running job.
    await runA.node.libp2p.stop()

    const answer = await result(client, envelope.id)
    expect(answer.status).toBe('succeeded')
    expect(answer.result?.output).toBe('finished by B')
    expect(answer.runner).toBe(runB.peerId)
    const status = await client.call<{ tried: string[] }>('supervisor.get_job_status', { jobId: envelope.id })
    expect(status.tried).toEqual([runA.peerId, runB.peerId])
  })

  it('loses no job across a supervisor restart: queued and running jobs all complete, each executed once', async () => {
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    let sup = await mesh.start(s, { roles: ['supervisor'] })
    const slow = gate()
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, concurrency: 2, kinds: { work: slow.kind } } },
    })
    let cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', run)
    const client = mesh.client(cli, sup)
    const jobs = Array.from({ length: 8 }, (_, i) => job(cli, { runner: 'work', input: { i } }))
    for (const j of jobs) await submit(client, j)
    // Capacity 2 × 2 slots: 4 out on the runner (2 running), 4 still queued on the supervisor.
    await waitFor(() => slow.runs.length === 2, { what: 'two jobs to run' })
    const before = await client.call<Array<{ status: string }>>('supervisor.list_jobs', {})
    expect(before.filter((j) => j.status === 'queued')).toHaveLength(4)

    await mesh.stop(sup)
    await mesh.stop(cli)
    slow.open() // jobs finish on the runner while no supervisor is listening

    sup = await mesh.start(s, { roles: ['supervisor'], bootstrap: run })
    cli = await mesh.start(c, { roles: [], bootstrap: sup })
    const again = mesh.client(cli, sup)
    for (const j of jobs) {
      const answer = await result(again, j.id)
      expect(answer.status, `job ${j.id}`).toBe('succeeded')
      expect(answer.result?.output).toEqual({ done: j.id })
    }
    expect([...slow.runs].sort()).toEqual(jobs.map((j) => j.id).sort())
  })

  it('answers "not running", never "not found", for a job it holds before it has loaded its jobs', async () => {
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    let sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { work: async (j) => ({ done: j.id }) } } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', run)
    const envelope = job(cli, { runner: 'work' })
    await submit(mesh.client(cli, sup), envelope)
    expect((await result(mesh.client(cli, sup), envelope.id)).status).toBe('succeeded')
    await mesh.stop(sup)

    // Restarted: the node answers RPC before the supervisor role has read its datastore. A
    // coordinator told "not found" then would send the step to a second supervisor.
    sup = await mesh.start(s, { roles: ['supervisor'], bootstrap: run, startRoles: false })
    const early = mesh.client(cli, sup)
    for (const method of ['supervisor.get_job_result', 'supervisor.get_job_status']) {
      const err = await early.call(method, { jobId: envelope.id }).catch((e: unknown) => e)
      expect(err, method).toBeInstanceOf(SupervisorNotRunningError)
      expect((err as SupervisorNotRunningError).retryable).toBe(true)
    }
    const reserving = await early
      .call('supervisor.get_job_result', { jobId: envelope.id, reserve: true })
      .catch((e: unknown) => e)
    expect(reserving).toBeInstanceOf(SupervisorNotRunningError)

    await sup.roles.start()
    const answer = await result(early, envelope.id)
    expect(answer.status).toBe('succeeded')
    expect(answer.result?.output).toEqual({ done: envelope.id })
  })

  it("gives back the nonces its records hold before the node's runner starts, so that runner finds them spent from its first call", async () => {
    const [s, c] = [await mesh.member('sup'), await mesh.member('cli')]
    const options = {
      runner: { builtins: false, kinds: { work: async (j: { id: string }) => ({ done: j.id }) } },
    }
    let sup = await mesh.start(s, { roles: ['supervisor', 'runner'], options })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    const envelope = job(cli, { runner: 'work' })
    await submit(mesh.client(cli, sup), envelope)
    expect((await result(mesh.client(cli, sup), envelope.id)).status).toBe('succeeded')
    // Its nonce went to disk only inside its record.
    const replayKey = new Key(`/horus/replay/${envelope.submitter}/${envelope.nonce}`)
    await expect(sup.node.datastore.has(replayKey)).resolves.toBe(false)
    await mesh.stop(sup)

    sup = await mesh.start(s, { roles: ['supervisor', 'runner'], options, startRoles: false })
    const { runner } = sup.roles
    if (runner === undefined) throw new Error('no runner role')
    const { replayCache } = sup.node.trust
    expect(replayCache.has(envelope.submitter, envelope.nonce)).toBe(false)
    let spentWhenRunnerStarted: boolean | undefined
    const start = runner.start.bind(runner)
    runner.start = async () => {
      spentWhenRunnerStarted = replayCache.has(envelope.submitter, envelope.nonce)
      await start()
    }
    await sup.roles.start()
    expect(spentWhenRunnerStarted).toBe(true)
  })

  it('does not run a job again that is sent after its record was pruned while it is still valid (a retention shorter than its validity)', async () => {
    const [s, c] = [await mesh.member('sup'), await mesh.member('cli')]
    const runs: string[] = []
    const retentionMs = 2_000
    const sup = await mesh.start(s, {
      roles: ['supervisor', 'runner'],
      options: {
        supervisor: { retentionMs },
        runner: {
          builtins: false,
          kinds: {
            work: async (j) => {
              runs.push(j.id)
              return { done: j.id }
            },
          },
        },
      },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    const client = mesh.client(cli, sup)
    const envelope = job(cli, { runner: 'work', ttlMs: 5_000 })
    await submit(client, envelope)
    expect((await result(client, envelope.id)).status).toBe('succeeded')
    await waitFor(
      async () =>
        (await client
          .call('supervisor.get_job_status', { jobId: envelope.id })
          .catch((err: unknown) => err)) instanceof JobNotFoundError,
      { timeoutMs: 10_000, what: 'the finished job to be pruned' },
    )
    // Within one retention of its expiry: where a bound on the expiry alone took it as never stored.
    await waitFor(() => Date.now() > envelope.expiresAt - retentionMs, {
      timeoutMs: 10_000,
      what: 'the job to be within one retention of its expiry',
    })
    expect(Date.now()).toBeLessThan(envelope.expiresAt)
    // Its nonce is spent: only the node's runner, which keeps its result, may answer it.
    await submit(client, envelope)
    expect((await result(client, envelope.id)).result?.output).toEqual({ done: envelope.id })
    expect(runs).toEqual([envelope.id])
  })

  it('does not run a job again that is sent after its record was pruned, also once the node restarted with a longer retention', async () => {
    const [s, c] = [await mesh.member('sup'), await mesh.member('cli')]
    const runs: string[] = []
    const runner = {
      builtins: false,
      kinds: {
        work: async (j: { id: string }) => {
          runs.push(j.id)
          return { done: j.id }
        },
      },
    }
    let sup = await mesh.start(s, {
      roles: ['supervisor', 'runner'],
      options: { supervisor: { retentionMs: 500 }, runner },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    const envelope = job(cli, { runner: 'work', ttlMs: 120_000 })
    await submit(mesh.client(cli, sup), envelope)
    expect((await result(mesh.client(cli, sup), envelope.id)).status).toBe('succeeded')
    const replayKey = new Key(`/horus/replay/${envelope.submitter}/${envelope.nonce}`)
    await waitFor(() => sup.node.datastore.has(replayKey), {
      timeoutMs: 10_000,
      what: 'the finished record to be pruned and its nonce written',
    })
    await mesh.stop(sup)
    await mesh.stop(cli)

    // An hour's retention now: by today's bound alone, no record of the job could have been pruned.
    sup = await mesh.start(s, {
      roles: ['supervisor', 'runner'],
      options: { supervisor: { retentionMs: 3_600_000 }, runner },
    })
    const again = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    const client = mesh.client(again, sup)
    await submit(client, envelope)
    expect((await result(client, envelope.id)).result?.output).toEqual({ done: envelope.id })
    expect(runs).toEqual([envelope.id])
  })

  it('refuses a job whose record it could not read back at start, rather than run it a second time', async () => {
    const [s, r, r2, c] = [
      await mesh.member('sup'),
      await mesh.member('run'),
      await mesh.member('run2'),
      await mesh.member('cli'),
    ]
    const runs: string[] = []
    let sup = await mesh.start(s, { roles: ['supervisor'] })
    const kinds: Record<string, KindHandler> = {
      work: async (j) => {
        runs.push(j.id)
        return 'done'
      },
    }
    let run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds } },
    })
    let cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work')
    const envelope = job(cli, { runner: 'work', ttlMs: 120_000 })
    await submit(mesh.client(cli, sup), envelope)
    expect((await result(mesh.client(cli, sup), envelope.id)).status).toBe('succeeded')
    const recordKey = new Key(`${JOBS_PREFIX}/${encodeURIComponent(envelope.id)}`)
    await mesh.stop(sup)
    await mesh.stop(cli)
    await mesh.stop(run)
    // The record on disk damaged (its nonce with it), and the runner that ran the job gone.
    const datastore = sup.node.datastore
    await datastore.open()
    await datastore.put(recordKey, Buffer.from('{"job":'))
    await datastore.close()

    sup = await mesh.start(s, { roles: ['supervisor'] })
    run = await mesh.start(r2, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds } },
    })
    cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work')
    const refused = await submit(mesh.client(cli, sup), envelope).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/could not read all its job records back/)
    expect(runs).toEqual([envelope.id])
  })

  it('answers a job whose record it could not read back from its node’s runner, which kept the result', async () => {
    const [s, c] = [await mesh.member('sup'), await mesh.member('cli')]
    const runs: string[] = []
    const kinds: Record<string, KindHandler> = {
      work: async (j) => {
        runs.push(j.id)
        return 'done'
      },
    }
    const options = { runner: { builtins: false, kinds } }
    let sup = await mesh.start(s, { roles: ['supervisor', 'runner'], options })
    let cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    const envelope = job(cli, { runner: 'work', ttlMs: 120_000 })
    await submit(mesh.client(cli, sup), envelope)
    expect((await result(mesh.client(cli, sup), envelope.id)).status).toBe('succeeded')
    await mesh.stop(sup)
    await mesh.stop(cli)
    const datastore = sup.node.datastore
    await datastore.open()
    await datastore.put(new Key(`${JOBS_PREFIX}/${encodeURIComponent(envelope.id)}`), Buffer.from('{"job":'))
    await datastore.close()

    sup = await mesh.start(s, { roles: ['supervisor', 'runner'], options })
    cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    const client = mesh.client(cli, sup)
    await submit(client, envelope)
    expect((await result(client, envelope.id)).result?.output).toBe('done')
    expect(runs).toEqual([envelope.id])
  })
})
