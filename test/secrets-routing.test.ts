/**
 * Job secrets on real in-process nodes: the SDK seals to the runners the supervisor trusts for the
 * capability, the supervisor routes such a job only to a recipient, a runner it was not sealed to
 * refuses it (typed), and the value reaches the script but not its logs, output or error.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HorusClient, SecretSealingError } from '../src/client/index.js'
import { readExistingIdentity } from '../src/node/identity.js'
import {
  createJob,
  JobRejectedError,
  normalizePublicKey,
  sealSecrets,
  signerFromPrivateKey,
} from '../src/protocols/jobs/index.js'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import { RUNNER_ERRORS } from '../src/roles/runner/index.js'
import { waitFor } from '../src/testing/index.js'
import { ClientMesh, type Member, type Running, runnerVisible } from './client-mesh.js'

const SECRET = 'hunter2-Tr0ub4dor&3'
const mesh = new ClientMesh()
const clients: HorusClient[] = []
const rpcs: Libp2pRpcClient[] = []
afterEach(async () => {
  await Promise.allSettled([...clients.splice(0), ...rpcs.splice(0)].map((c) => c.close()))
  await mesh.cleanup()
})

/** A policy with exact roles: the supervisor, two runners, one client. */
function policy(sup: Member, runners: Member[], client: Member) {
  return {
    trust: {
      keys: [
        { key: sup.peerId, name: 'sup', roles: ['supervisor'] },
        ...runners.map((r) => ({ key: r.peerId, name: r.name, roles: ['runner'], capabilities: ['sal'] })),
        { key: client.peerId, name: 'client', roles: ['client'], capabilities: ['sal'] },
      ],
    },
  }
}

async function setUp() {
  const [s, a, b, me] = [
    await mesh.member('sup'),
    await mesh.member('runA'),
    await mesh.member('runB'),
    await mesh.member('me'),
  ]
  const extra = policy(s, [a, b], me)
  const sup = await mesh.start(s, { roles: ['supervisor'], extra })
  const runA = await mesh.start(a, { roles: ['runner'], bootstrap: [sup], extra })
  const runB = await mesh.start(b, { roles: ['runner'], bootstrap: [sup], extra })
  await waitFor(
    () => (sup.roles.supervisor?.runners().filter((r) => r.capabilities.includes('sal')).length ?? 0) >= 2,
    {
      timeoutMs: 15_000,
      what: 'both runners visible to the supervisor',
    },
  )
  await runnerVisible(sup, 'sal')
  const client = await HorusClient.connect({ bootstrap: [sup.addr], identity: me.dataDir })
  clients.push(client)
  return { sup, runA, runB, me, client }
}

function rpc(from: Running, to: Running): Libp2pRpcClient {
  const client = new Libp2pRpcClient({
    libp2p: from.node.libp2p,
    target: to.addr,
    errors: [JobRejectedError, ...RUNNER_ERRORS],
  })
  rpcs.push(client)
  return client
}

describe('job secrets', () => {
  it('are sealed to the trusted runners and never come back in plaintext', async () => {
    const { runA, runB, client } = await setUp()
    const recipients = await client.rpc<{ recipients: { peerId: string }[] }>(
      'supervisor',
      'supervisor.secret_recipients',
      { capability: 'sal' },
    )
    expect(recipients.recipients.map((r) => r.peerId).sort()).toEqual([runA.peerId, runB.peerId].sort())

    const b64 = Buffer.from(SECRET).toString('base64')
    const accepted = await client.createJob({
      runner: 'sal',
      payload: [
        'console.log("the key is " + env.API_KEY)',
        'const shell = os.exec("printf %s \\"$API_KEY\\"").stdout;',
        `({ length: env.API_KEY.length, same: shell === env.API_KEY, echo: env.API_KEY, b64: "${b64}", [env.API_KEY]: 1 })`,
      ].join('\n'),
      secrets: { API_KEY: SECRET },
    })
    const outcome = await client.waitForJob(accepted.jobId, { signal: AbortSignal.timeout(20_000) })
    expect(outcome.status, JSON.stringify(outcome.result?.error)).toBe('succeeded')
    expect(outcome.result?.output).toEqual({
      length: SECRET.length,
      same: true,
      echo: '***',
      b64: '***',
      '***': 1,
    })
    expect(await client.jobLogs(accepted.jobId)).toEqual(['the key is ***'])

    const failing = await client.createJob({
      runner: 'sal',
      payload: 'throw new Error("cannot use " + env.API_KEY)',
      secrets: { API_KEY: SECRET },
    })
    const failed = await client.waitForJob(failing.jobId, { signal: AbortSignal.timeout(20_000) })
    expect(failed.status).toBe('failed')
    expect(failed.result?.error?.message).toBe('Error: cannot use ***')
  })

  it('a job sealed to one runner runs only there; another runner refuses it with a typed reason', async () => {
    const { sup, runA, runB, me, client } = await setUp()
    for (let i = 0; i < 4; i++) {
      const accepted = await client.createJob({
        runner: 'sal',
        payload: 'env.API_KEY.length',
        secrets: { API_KEY: SECRET },
        secretRecipients: [runB.peerId],
      })
      const outcome = await client.waitForJob(accepted.jobId, { signal: AbortSignal.timeout(20_000) })
      expect(outcome.result?.output).toBe(SECRET.length)
      expect(outcome.runner).toBe(runB.peerId)
    }

    // Straight to runner A, as its supervisor: refused before its nonce is spent.
    const signer = signerFromPrivateKey((await readExistingIdentity(me.dataDir)).privateKey)
    const job = createJob(
      {
        runner: 'sal',
        payload: 'env.API_KEY',
        secrets: sealSecrets({ API_KEY: SECRET }, [normalizePublicKey(runB.peerId)]),
      },
      signer,
    )
    const refusal = await rpc(sup, runA)
      .call('runner.execute', { job })
      .catch((err: unknown) => err)
    expect(refusal).toMatchObject({ name: 'SecretNotRecipientError', code: 'SECRET_NOT_RECIPIENT' })
    expect((refusal as Error).message).toMatch(/secret API_KEY was not sealed to this runner/)

    // Sealed only to a key no runner holds: it waits, saying why.
    const orphan = await client.createJob({
      runner: 'sal',
      payload: 'env.API_KEY',
      secrets: { API_KEY: SECRET },
      secretRecipients: [me.peerId],
    })
    await waitFor(
      async () =>
        (await client.getJobStatus(orphan.jobId)).reason ===
        'no runner for capability "sal" among the 1 its secrets were sealed to',
      { timeoutMs: 10_000, what: 'the supervisor to explain why the job waits' },
    )
    expect((await client.getJobStatus(orphan.jobId)).status).toBe('queued')
  })

  it('cannot be sealed when no runner is trusted for the capability', async () => {
    const { client } = await setUp()
    await expect(
      client.createJob({ runner: 'osiris', payload: '1', secrets: { API_KEY: SECRET } }),
    ).rejects.toThrow(SecretSealingError)
    await expect(
      client.createJob({ runner: 'osiris', payload: '1', secrets: { API_KEY: SECRET } }),
    ).rejects.toThrow(/no runner is trusted for capability "osiris"/)
  })

  it('of a workflow are sealed per step capability; the run keeps only sealed forms and checks the names', async () => {
    const [s, a, b, me] = [
      await mesh.member('hub'),
      await mesh.member('runA'),
      await mesh.member('runB'),
      await mesh.member('me'),
    ]
    const extra = {
      trust: {
        keys: [
          { key: s.peerId, name: 'hub', roles: ['coordinator', 'supervisor'], capabilities: ['*'] },
          { key: a.peerId, name: 'runA', roles: ['runner'], capabilities: ['sal'] },
          { key: b.peerId, name: 'runB', roles: ['runner'], capabilities: ['hero'] },
          { key: me.peerId, name: 'client', roles: ['client'], capabilities: ['sal', 'hero'] },
        ],
      },
    }
    const hub = await mesh.start(s, { roles: ['coordinator', 'supervisor'], extra })
    await mesh.start(a, {
      roles: ['runner'],
      bootstrap: [hub],
      extra,
      options: { runner: { builtins: ['sal'] } },
    })
    await mesh.start(b, {
      roles: ['runner'],
      bootstrap: [hub],
      extra,
      options: { runner: { builtins: ['hero'] } },
    })
    await waitFor(
      () => {
        const caps = new Set(hub.roles.supervisor?.runners().flatMap((r) => r.capabilities))
        return caps.has('sal') && caps.has('hero')
      },
      { timeoutMs: 15_000, what: 'both runners visible' },
    )
    const client = await HorusClient.connect({ bootstrap: [hub.addr], identity: me.dataDir })
    clients.push(client)
    const workflow = {
      workflow: {
        name: 'uses-secrets',
        steps: [
          { id: 'one', runner: 'sal', secrets: ['API_KEY'], payload: 'env.API_KEY.length' },
          {
            id: 'two',
            runner: 'hero',
            secrets: ['API_KEY', 'TOKEN'],
            depends_on: ['one'],
            payload: "!!shell.exec cmd:'printf %s $TOKEN'",
          },
        ],
      },
    }
    const uses = await client.rpc<{
      secrets: Array<{ name: string; capabilities: string[]; recipients: { peerId: string }[] }>
    }>('coordinator', 'coordinator.secret_recipients', { workflow })
    expect(
      uses.secrets.map((u) => [u.name, u.capabilities, u.recipients.map((r) => r.peerId).sort()]),
    ).toEqual([
      ['API_KEY', ['sal', 'hero'], [a.peerId, b.peerId].sort()],
      ['TOKEN', ['hero'], [b.peerId]],
    ])

    const runId = await client.submitWorkflow(
      workflow,
      {},
      { secrets: { API_KEY: SECRET, TOKEN: 'token-value' } },
    )
    const run = await client.waitForCompletion(runId, { signal: AbortSignal.timeout(30_000) })
    expect(run.status, JSON.stringify(run.steps.map((x) => x.error))).toBe('completed')
    expect(run.steps.find((x) => x.id === 'one')?.output).toBe(SECRET.length)
    expect(run.steps.find((x) => x.id === 'two')?.output).toMatchObject({ stdout: '***' })
    const stored = hub.roles.coordinator?.runState(runId)?.state.meta?.secrets ?? {}
    expect(Object.keys(stored).sort()).toEqual(['API_KEY', 'TOKEN'])
    expect(JSON.stringify(stored)).not.toContain(SECRET)
    expect(JSON.stringify(run)).not.toContain(SECRET)

    await expect(client.submitWorkflow(workflow, {}, { secrets: { API_KEY: SECRET } })).rejects.toMatchObject(
      {
        name: 'WorkflowInputError',
        issues: [{ path: 'secrets.TOKEN', message: expect.stringMatching(/^step two needs this secret/) }],
      },
    )
    await expect(
      client.submitWorkflow(
        workflow,
        {},
        { secrets: { API_KEY: SECRET, TOKEN: 'token-value', OTHER: 'other-value' } },
      ),
    ).rejects.toThrow('secrets.OTHER: no step of the workflow names this secret')
    await expect(
      client.rpc('coordinator', 'coordinator.register_trigger', { name: 'nightly', kind: 'http', workflow }),
    ).rejects.toMatchObject({ name: 'WorkflowInputError' })
  })
})
