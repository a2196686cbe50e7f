import { afterEach, describe, expect, it } from 'vitest'
import { AccessDeniedError, GatewayTokenError, HorusClient, JobNotFoundError } from '../src/client/index.js'
import { HorusError } from '../src/core/errors.js'
import { UnauthorizedError } from '../src/protocols/rpc/errors.js'
import { ClientMesh, ECHO_RUNNER, hears, runnerVisible } from './client-mesh.js'

const mesh = new ClientMesh()
const clients: HorusClient[] = []
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
  await mesh.cleanup()
})

async function connect(options: Parameters<typeof HorusClient.connect>[0]): Promise<HorusClient> {
  const client = await HorusClient.connect(options)
  clients.push(client)
  return client
}

describe('HorusClient single jobs against real supervisor and runner nodes', () => {
  it('finds the supervisor through a runner node, signs the job with its key and returns the verified result', async () => {
    const [s, r, me] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('sdk')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
    await runnerVisible(sup, 'echo')
    await hears(run, [sup])

    const client = await connect({ bootstrap: [run.addr], identity: me.dataDir })
    expect(client.peerId).toBe(me.peerId)
    const accepted = await client.createJob({ runner: 'echo', payload: 'hi', input: { n: 1 } })
    expect(accepted.capability).toBe('echo')
    const outcome = await client.getJobResult(accepted.jobId, { wait: true, timeoutMs: 15_000 })
    expect(outcome.status).toBe('succeeded')
    expect(outcome.result?.output).toEqual({ payload: 'hi', input: { n: 1 } })
    expect(outcome.runner).toBe(run.peerId)
    expect((await client.getJobStatus(accepted.jobId)).status).toBe('succeeded')
    expect(await client.jobLogs(accepted.jobId)).toEqual(['echo hi'])

    await expect(client.getJobStatus('no-such-job')).rejects.toBeInstanceOf(JobNotFoundError)
  })

  it('is refused by a supervisor whose trust policy does not list its key', async () => {
    const [s, r] = [await mesh.member('sup'), await mesh.member('run')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    await mesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
    await runnerVisible(sup, 'echo')
    const stranger = await connect({ bootstrap: [sup.addr] }) // ephemeral key, in no policy
    const refused = await stranger.createJob({ runner: 'echo', payload: 'x' }).catch((err: unknown) => err)
    // A HorusError the SDK exports, naming the key to add to the node's trust policy.
    expect(refused).toBeInstanceOf(AccessDeniedError)
    expect(refused).toBeInstanceOf(HorusError)
    expect(refused).toMatchObject({ code: 'ACCESS_DENIED' })
    expect((refused as Error).message).toContain(`does not admit this client (peer ID ${stranger.peerId})`)
    expect((refused as Error).cause).toBeInstanceOf(UnauthorizedError)
  })

  it('says the gateway token is missing or wrong, not that the trust policy refused the client', async () => {
    const s = await mesh.member('sup')
    const token = 'the-right-token-0123456789'
    const sup = await mesh.start(s, {
      roles: ['supervisor'],
      extra: { gateway: { listen: '127.0.0.1:0', token } },
    })
    const gateway = sup.node.gateway?.url as string
    const missing = await connect({ gateway })
    const noToken = await missing.listJobs().catch((err: unknown) => err)
    expect(noToken).toBeInstanceOf(GatewayTokenError)
    expect((noToken as Error).message).toBe(
      'the gateway requires a bearer token and none was given (HTTP 401)',
    )
    const wrong = await connect({ gateway, token: 'not-the-token-0123456789' })
    const badToken = await wrong.listJobs().catch((err: unknown) => err)
    expect(badToken).toBeInstanceOf(GatewayTokenError)
    expect((badToken as Error).message).toMatch(/^the gateway refused the bearer token/)
    expect((badToken as Error).message).not.toContain('trust policy')
    const right = await connect({ gateway, token })
    expect(await right.listJobs()).toEqual([])
  })

  it('works over a node gateway with the same calls', async () => {
    const [s, r, me] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('sdk')]
    const sup = await mesh.start(s, { roles: ['supervisor'], gateway: true })
    await mesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
    await runnerVisible(sup, 'echo')
    const client = await connect({ gateway: sup.node.gateway?.url as string, identity: me.dataDir })
    const accepted = await client.createJob({ runner: 'echo', payload: 'over http' })
    const outcome = await client.waitForJob(accepted.jobId, { signal: AbortSignal.timeout(15_000) })
    expect(outcome.result?.output).toEqual({ payload: 'over http', input: {} })
    const runners = await client.liveness({ role: 'runner' })
    expect(runners.map((p) => p.capabilities)).toEqual([['echo']])
  })

  it('signs the lifetime it is given, and checks the result of a job it no longer remembers against the fetched envelope', async () => {
    const [s, r, me] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('sdk')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    await mesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
    await runnerVisible(sup, 'echo')
    await expect(connect({ bootstrap: [sup.addr], identity: me.dataDir, rememberedJobs: 0 })).rejects.toThrow(
      'rememberedJobs: expected an integer ≥ 1, got 0',
    )

    const client = await connect({ bootstrap: [sup.addr], identity: me.dataDir, rememberedJobs: 1 })
    const first = await client.createJob({ runner: 'echo', payload: 'one', ttlMs: 45_000 })
    const job = sup.roles.supervisor?.findRecord(first.jobId)?.job
    expect(job === undefined ? undefined : job.expiresAt - job.createdAt).toBe(45_000)
    // Remembering one job, the client forgets the first when it creates the second.
    const second = await client.createJob({ runner: 'echo', payload: 'two' })
    const forgotten = await client.getJobResult(first.jobId, { wait: true, timeoutMs: 15_000 })
    expect(forgotten.result?.output).toEqual({ payload: 'one', input: {} })
    const remembered = await client.getJobResult(second.jobId, { wait: true, timeoutMs: 15_000 })
    expect(remembered.result?.output).toEqual({ payload: 'two', input: {} })
  })

  it('fails over to another supervisor when the one in use stops', async () => {
    const [a, b, r, me] = [
      await mesh.member('supA'),
      await mesh.member('supB'),
      await mesh.member('run'),
      await mesh.member('sdk'),
    ]
    const run = await mesh.start(r, { roles: ['runner'], options: ECHO_RUNNER })
    const supA = await mesh.start(a, { roles: ['supervisor'], bootstrap: [run] })
    const supB = await mesh.start(b, { roles: ['supervisor'], bootstrap: [run] })
    await Promise.all([runnerVisible(supA, 'echo'), runnerVisible(supB, 'echo'), hears(run, [supA, supB])])

    const client = await connect({ bootstrap: [run.addr], identity: me.dataDir })
    const first = await client.createJob({ runner: 'echo', payload: 'one' })
    const holds = (s: typeof supA, jobId: string): boolean =>
      s.roles.supervisor?.list().some((j) => j.job.id === jobId) === true
    const holder = holds(supA, first.jobId) ? supA : supB
    const other = holder === supA ? supB : supA
    expect(holds(holder, first.jobId)).toBe(true)
    await mesh.stop(holder)

    const second = await client.createJob({ runner: 'echo', payload: 'two' })
    const outcome = await client.getJobResult(second.jobId, { wait: true, timeoutMs: 15_000 })
    expect(outcome.result?.output).toEqual({ payload: 'two', input: {} })
    expect(holds(other, second.jobId)).toBe(true)
  })
})
