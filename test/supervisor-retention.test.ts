import { afterEach, describe, expect, it } from 'vitest'
import { JobNotFoundError } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('supervisor retention', () => {
  it('drops finished jobs past their retention while running, and keeps unfinished ones', async () => {
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    const sup = await mesh.start(s, { roles: ['supervisor'], options: { supervisor: { retentionMs: 300 } } })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { builtins: false, kinds: { quick: async () => 'ok' } } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'quick', run)
    const client = mesh.client(cli, sup)

    const done = job(cli, { runner: 'quick' })
    await submit(client, done)
    expect((await result(client, done.id)).status).toBe('succeeded')
    const waiting = job(cli, { runner: 'nobody-serves-this' })
    await submit(client, waiting, { waitForRunner: true })

    await waitFor(
      async () =>
        (await client
          .call('supervisor.get_job_status', { jobId: done.id })
          .catch((err: unknown) => err)) instanceof JobNotFoundError,
      { what: 'the finished job to be dropped' },
    )
    const still = await client.call<{ status: string }>('supervisor.get_job_status', { jobId: waiting.id })
    expect(still.status).toBe('queued')
  })
})
