/**
 * A terminal status is told only once it is on disk: a coordinator that hears "succeeded" records
 * the result and stops following the job, so a status told before the write and a crash in
 * between would have the job run again after the restart.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { JOBS_PREFIX } from '../src/roles/supervisor/constants.js'
import type { JobEvent, JobRecord } from '../src/roles/supervisor/index.js'
import { isTerminal } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'
import { members } from './trust-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('a terminal job status', () => {
  it('is on disk when the supervisor tells it, for a success and for a failure', async () => {
    const [s, r, c] = await members(mesh, 'sup', 'run', 'cli')
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: {
        runner: {
          builtins: false,
          kinds: {
            work: async (j) => {
              if (j.payload === 'fail') throw new Error('asked to fail')
              return { done: j.payload }
            },
          },
        },
      },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work')
    const service = sup.roles.supervisor
    if (service === undefined) throw new Error('no supervisor')
    const db = sup.node.datastore.db
    const told: { status: string; onDisk: string | undefined }[] = []
    service.addEventListener('job:status', (evt: CustomEvent<JobEvent>) => {
      if (!isTerminal(evt.detail.status)) return
      // Read straight from LevelDB, in the same turn the status is told.
      const stored = db.getSync(`${JOBS_PREFIX}/${encodeURIComponent(evt.detail.jobId)}`)
      const record =
        stored === undefined ? undefined : (JSON.parse(Buffer.from(stored).toString('utf8')) as JobRecord)
      told.push({ status: evt.detail.status, onDisk: record?.status })
    })
    const client = mesh.client(cli, sup)
    for (const payload of ['ok', 'fail']) {
      const envelope = job(cli, { runner: 'work', payload })
      await submit(client, envelope)
      await result(client, envelope.id)
    }
    await waitFor(() => told.length === 2, { what: 'both terminal statuses to be told' })
    expect(told).toEqual([
      { status: 'succeeded', onDisk: 'succeeded' },
      { status: 'failed', onDisk: 'failed' },
    ])
  })

  it('answers a job sent twice at once only when its record is on disk, as it answers the first send', async () => {
    const [s, c] = await members(mesh, 'sup', 'cli')
    const sup = await mesh.start(s, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, kinds: { work: async (j) => ({ done: j.id }) } } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', sup)
    // Job records reach the datastore only once released.
    const datastore = sup.node.datastore
    const put = datastore.put.bind(datastore)
    let release = (): void => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    datastore.put = async (key, value, options) => {
      if (key.toString().startsWith(JOBS_PREFIX)) await held
      return put(key, value, options)
    }
    try {
      const client = mesh.client(cli, sup)
      const envelope = job(cli, { runner: 'work' })
      const answers: string[] = []
      const first = submit(client, envelope).then(() => answers.push('first'))
      await waitFor(() => sup.roles.supervisor?.findRecord(envelope.id) !== undefined, {
        what: 'the first send to be held in memory, its record on its way to disk',
      })
      const second = submit(client, envelope).then(() => answers.push('second'))
      // The second send's round trip, twice over, with nothing answered while the record is held.
      for (let i = 0; i < 2; i++) await client.call('supervisor.get_job_status', { jobId: envelope.id })
      expect(answers).toEqual([])
      release()
      await Promise.all([first, second])
      expect(answers.sort()).toEqual(['first', 'second'])
    } finally {
      release()
    }
  })
})
