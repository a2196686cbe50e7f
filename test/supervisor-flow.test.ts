import { afterEach, describe, expect, it } from 'vitest'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('supervisor and runner in one process', () => {
  it('runs a custom-kind job end to end and answers a repeated create_job with the same record', async () => {
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: {
        runner: {
          builtins: false,
          kinds: {
            echo: async (j, ctx) => {
              ctx.log('hello')
              return { echoed: j.input }
            },
          },
        },
      },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'echo', run)
    const client = mesh.client(cli, sup)
    const envelope = job(cli, { runner: 'echo', input: { a: 1 } })
    const ack = await submit(client, envelope)
    expect(ack).toMatchObject({ jobId: envelope.id, capability: 'echo' })
    const answer = await result(client, envelope.id)
    expect(answer.status).toBe('succeeded')
    expect(answer.result?.output).toEqual({ echoed: { a: 1 } })
    expect(answer.runner).toBe(run.peerId)
    expect(answer.result?.runner).toBe(run.node.identity.publicKeyHex)
    const again = await submit(client, envelope)
    expect(again.status).toBe('succeeded')
    expect(await client.call('supervisor.get_job_logs', { jobId: envelope.id })).toEqual(['hello'])
  })

  it('runs jobs on the runner of its own node when one node holds both roles', async () => {
    const [n, c] = [await mesh.member('both'), await mesh.member('cli')]
    const both = await mesh.start(n, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: ['sal'], functions: { process_data: (x) => ({ processed: x }) } } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: both })
    const client = mesh.client(cli, both)
    const envelope = job(cli, {
      runner: 'sal',
      input: { fetch: [1, 2] },
      payload: 'let data = input.fetch;\nlet processed = process_data(data);\nprocessed',
    })
    await submit(client, envelope)
    const answer = await result(client, envelope.id)
    expect(answer).toMatchObject({ status: 'succeeded', runner: both.peerId })
    expect(answer.result?.output).toEqual({ processed: [1, 2] })
    const runners = await client.call<Array<{ source: string }>>('supervisor.list_runners', {})
    expect(runners.map((r) => r.source)).toEqual(['local'])
  })
})
