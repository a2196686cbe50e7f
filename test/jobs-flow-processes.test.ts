/**
 * Acceptance 1 and 3 across real OS processes over TCP + noise: a supervisor and runners started
 * through the CLI (`horus node start`), and the client — this test process — with its own libp2p
 * node. Each process has its own config file whose `trust:` section names the others.
 * (`npm test` builds dist/ first; for a local run: `npx tsc -p tsconfig.build.json`.)
 */

import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { publicKeyHexFromPeerId } from '../src/protocols/jobs/index.js'
import type { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { JobStatusView, RunnerView } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { type CliNode, startCliNode, stopCliNode } from './helpers/cli.js'
import { JobMesh, job, type MeshMember, result, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
const processes: CliNode[] = []
let server: Server | undefined

afterEach(async () => {
  await Promise.allSettled(processes.splice(0).map((p) => stopCliNode(p)))
  await mesh.cleanup()
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)))
  server = undefined
})

/** Starts `member` as `horus node start` with a config file carrying the mesh's trust policy. */
async function startProcess(
  member: MeshMember,
  roles: string,
  extra: Record<string, unknown>,
  bootstrap?: string,
) {
  const file = join(member.dataDir, 'horus.yaml')
  // JSON is YAML: the config loader reads it as written.
  await writeFile(file, JSON.stringify({ trust: mesh.trust(), ...extra }))
  const args = [
    '--config',
    file,
    '--data-dir',
    member.dataDir,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--roles',
    roles,
  ]
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap)
  const node = await startCliNode(args)
  processes.push(node)
  return node
}

async function runnerSeen(client: Libp2pRpcClient, peerId: string, capability: string): Promise<void> {
  await waitFor(
    async () =>
      (await client.call<RunnerView[]>('supervisor.list_runners', {})).some(
        (r) => r.peerId === peerId && r.capabilities.includes(capability),
      ),
    { timeoutMs: 20_000, what: `runner ${peerId} to be seen by the supervisor` },
  )
}

async function dataServer(): Promise<string> {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ path: req.url, value: 21 }))
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no server address')
  return `http://127.0.0.1:${address.port}`
}

describe('the simple job flow across three OS processes', () => {
  it('runs a hero, a sal and an osiris job: client → supervisor → runner → signed result', async () => {
    const base = await dataServer()
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    const sup = await startProcess(s, 'supervisor', {})
    const run = await startProcess(r, 'runner', {}, sup.multiaddrs[0])
    const cli = await mesh.start(c, { roles: [], bootstrap: sup.multiaddrs[0] as string })
    const client = mesh.client(cli, sup.multiaddrs[0] as string)
    await runnerSeen(client, run.peerId, 'osiris')

    const fetch = job(cli, { runner: 'hero', payload: `!!http.get url:'${base}/data'` })
    await submit(client, fetch)
    const fetched = await result(client, fetch.id)
    expect(fetched.status).toBe('succeeded')
    expect(fetched.runner).toBe(run.peerId)
    expect(fetched.result?.output).toEqual({ path: '/data', value: 21 })

    const process = job(cli, {
      runner: 'sal',
      input: { fetch: fetched.result?.output },
      payload:
        'let data = input.fetch;\nlet r = os.exec("echo " + (data.value * 2));\n({ doubled: Number(r.stdout.trim()) })',
    })
    await submit(client, process)
    const processed = await result(client, process.id)
    expect(processed.status).toBe('succeeded')
    expect(processed.result?.output).toEqual({ doubled: 42 })

    const store = job(cli, {
      runner: 'osiris',
      input: { process: processed.result?.output },
      payload: 'let model = osiris.model("results");\nmodel.create(input.process);',
    })
    await submit(client, store)
    const stored = await result(client, store.id)
    expect(stored.status, JSON.stringify(stored)).toBe('succeeded')
    expect(stored.result?.output).toMatchObject({ doubled: 42 })
    // Signed by the runner process's own key, which the supervisor checked against its peer ID.
    expect(stored.result?.runner).toBe(publicKeyHexFromPeerId(run.peerId))
  })

  it('finishes a job on another runner when its runner process is SIGKILLed mid-job', async () => {
    const [s, a, b, c] = [
      await mesh.member('sup'),
      await mesh.member('runA'),
      await mesh.member('runB'),
      await mesh.member('cli'),
    ]
    const sup = await startProcess(s, 'supervisor', {})
    // The same job sleeps 30 s on A and not at all on B: each runner's environment says how long.
    const runA = await startProcess(a, 'runner', { runner: { env: { NAP: '30' } } }, sup.multiaddrs[0])
    const cli = await mesh.start(c, { roles: [], bootstrap: sup.multiaddrs[0] as string })
    const client = mesh.client(cli, sup.multiaddrs[0] as string)
    await runnerSeen(client, runA.peerId, 'sal')

    const envelope = job(cli, {
      runner: 'sal',
      payload: 'os.exec("sleep " + env.NAP); "woke up"',
      timeoutMs: 60_000,
    })
    await submit(client, envelope)
    await waitFor(
      async () =>
        (await client.call<JobStatusView>('supervisor.get_job_status', { jobId: envelope.id })).status ===
        'running',
      { what: 'the job to run on runner A' },
    )
    const runB = await startProcess(b, 'runner', { runner: { env: { NAP: '0' } } }, sup.multiaddrs[0])
    await runnerSeen(client, runB.peerId, 'sal')
    await stopCliNode(runA, 'SIGKILL')

    const answer = await result(client, envelope.id, 30_000)
    expect(answer.status).toBe('succeeded')
    expect(answer.result?.output).toBe('woke up')
    expect(answer.runner).toBe(runB.peerId)
  })

  it('keeps every job it acknowledged, queued or dispatched at acceptance, and refuses their replay, when its process is SIGKILLed right after the acknowledgements', async () => {
    const [s, c] = [await mesh.member('sup'), await mesh.member('cli')]
    // Its own runner in the same process (one process start less): killed with it.
    const sup = await startProcess(s, 'supervisor,runner', { runner: { concurrency: 4 } })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup.multiaddrs[0] as string })
    const client = mesh.client(cli, sup.multiaddrs[0] as string)
    await runnerSeen(client, sup.peerId, 'sal')
    // Jobs that outlast the test: those that find a free slot are dispatched in the turn they are
    // accepted and written once, already `dispatched`; the rest stay queued.
    const envelopes = Array.from({ length: 200 }, (_, i) =>
      job(cli, { runner: 'sal', payload: `os.exec("sleep 30"); ${i}`, timeoutMs: 60_000 }),
    )
    const acknowledged: string[] = []
    let killed = false
    // Killed from inside the 50th acknowledgement, while the other writes are still in flight.
    const submitted = envelopes.map((envelope) =>
      submit(client, envelope, { waitForRunner: true }).then(() => {
        if (killed) return
        acknowledged.push(envelope.id)
        if (acknowledged.length === 50) {
          killed = true
          sup.child.kill('SIGKILL')
        }
      }),
    )
    await Promise.allSettled(submitted)
    expect(killed).toBe(true)
    await stopCliNode(sup)
    expect(sup.child.signalCode).toBe('SIGKILL')

    // Without its runner, the restarted supervisor shows what it stored: nothing is dispatched again.
    const again = await startProcess(s, 'supervisor', {})
    const client2 = mesh.client(cli, again.multiaddrs[0] as string)
    const dispatched: string[] = []
    for (const jobId of acknowledged) {
      const status = await client2.call<JobStatusView>('supervisor.get_job_status', { jobId })
      expect(['queued', 'dispatched', 'running'], jobId).toContain(status.status)
      if (status.status === 'queued') continue
      expect(status.runner, jobId).toBe(sup.peerId)
      dispatched.push(jobId)
    }
    expect(dispatched.length).toBeGreaterThan(0)
    expect(dispatched.length).toBeLessThan(acknowledged.length)
    // The same envelope handed in again answers the stored record rather than a replay refusal.
    const first = envelopes.find((e) => e.id === acknowledged[0])
    if (first === undefined) throw new Error('no acknowledged job')
    expect((await submit(client2, first, { waitForRunner: true })).jobId).toBe(first.id)

    // Their nonces were written only inside their records (one put per job). Restarted as a runner
    // alone, the node still finds them spent: every acknowledged envelope sent to it is refused as
    // a replay — none started, though those that were running died with the first process.
    await stopCliNode(again)
    const runner = await startProcess(s, 'runner', {})
    const client3 = mesh.client(cli, runner.multiaddrs[0] as string)
    const byId = new Map(envelopes.map((e) => [e.id, e]))
    const { accepted } = await client3.call<{
      accepted: Array<{ ok: boolean; error?: { message: string } }>
    }>('runner.execute_many', { jobs: acknowledged.map((id) => byId.get(id)) })
    expect(accepted).toHaveLength(acknowledged.length)
    for (const [i, answer] of accepted.entries()) {
      expect(answer.ok, acknowledged[i]).toBe(false)
      expect(answer.error?.message, acknowledged[i]).toMatch(/replayed/)
    }
    // A fresh job is still taken: the refusals are about those nonces, not the runner.
    const fresh = await client3.call<{ accepted: Array<{ ok: boolean }> }>('runner.execute_many', {
      jobs: [job(cli, { runner: 'sal', payload: '1 + 1' })],
    })
    expect(fresh.accepted).toEqual([{ ok: true }])
  })
})
