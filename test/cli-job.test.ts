import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { horus } from './cli-capture.js'
import { ClientMesh, ECHO_RUNNER, hears, runnerVisible } from './client-mesh.js'

const mesh = new ClientMesh()
afterEach(() => mesh.cleanup())

describe('horus job and horus mesh runners against real nodes', () => {
  it('creates a signed job through any node, waits for it, and reads it back by id', async () => {
    const [s, r, me] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    const sup = await mesh.start(s, { roles: ['supervisor'], gateway: true })
    const run = await mesh.start(r, { roles: ['runner'], bootstrap: [sup], options: ECHO_RUNNER })
    await runnerVisible(sup, 'echo')
    await hears(run, [sup])
    // Jobs are created over libp2p through the runner node (the client finds the supervisor);
    // reads go over the supervisor's gateway, because libp2p accepts at most 5 new connections
    // a second from one address and these commands follow each other faster than that.
    const connect = ['--peer', run.addr, '--data-dir', me.dataDir]
    const gatewayUrl = sup.node.gateway?.url as string
    const http = ['--gateway', gatewayUrl]
    const runners = await horus(['mesh', 'runners', '--gateway', gatewayUrl])
    expect(runners.stderr).toBe('')
    expect(runners.code).toBe(0)
    // Named as the node's trust policy names the key (ClientMesh names each member).
    expect(runners.stdout).toMatch(
      new RegExp(`^run \\(${run.peerId.slice(0, 8)}…${run.peerId.slice(-6)}\\)  load 0/\\d+\\s+echo`),
    )
    // Nothing can run a python job: refused at once, naming what the mesh offers.
    const none = await horus(['job', 'create', '--runner', 'python', '--payload', 'x', '--wait', ...connect])
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('no_runner: no live runner offers capability "python" (available: echo)')
    const payloadFile = join(await mesh.tempDir(), 'payload.txt')
    await writeFile(payloadFile, 'from a file')

    const created = await horus([
      'job',
      'create',
      '--runner',
      'echo',
      '--payload',
      `@${payloadFile}`,
      '--input',
      '{"n":2}',
      '--wait',
      ...connect,
    ])
    expect(created.stderr).toContain('accepted; waiting')
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout)).toEqual({ payload: 'from a file', input: { n: 2 } })

    const id = await horus(['job', 'create', '--runner', 'echo', '--payload', 'x', '--json', ...connect])
    expect(id.code).toBe(0)
    const jobId = (JSON.parse(id.stdout) as { jobId: string }).jobId
    const result = await horus(['job', 'result', jobId, '--wait', '--json', ...http])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ jobId, status: 'succeeded', runner: run.peerId })
    const jobStatus = await horus(['job', 'status', jobId, ...http])
    expect(jobStatus.stdout).toContain(`${jobId}  succeeded  echo`)
    expect(jobStatus.stdout).toContain(`runner: run (${run.peerId.slice(0, 8)}…`)

    const listed = await horus(['job', 'list', '--status', 'succeeded', '--limit', '1', ...http])
    expect(listed.code).toBe(0)
    // Newest first: the second job created; its runner by name.
    expect(listed.stdout).toMatch(new RegExp(`^${jobId}  succeeded\\s+echo\\s+\\S+Z  on run \\(`))
    expect(listed.stdout.split('\n')).toHaveLength(1)
    const all = JSON.parse((await horus(['job', 'list', '--json', ...http])).stdout) as Array<{
      jobId: string
    }>
    expect(all).toHaveLength(2)
    expect(all[0]?.jobId).toBe(jobId)
    expect((await horus(['job', 'list', '--status', 'odd', ...http])).code).toBe(2)

    // The supervisor node's peers: the runner by name with its listen address, never the client.
    const peers = await horus(['mesh', 'peers', '--peer', sup.addr, '--data-dir', me.dataDir])
    expect(peers.code).toBe(0)
    expect(peers.stdout).toContain(`run (${run.peerId.slice(0, 8)}…`)
    expect(peers.stdout).toContain(run.addr)
    expect(peers.stdout).not.toContain(me.peerId)
    const status = JSON.parse((await horus(['node', 'status', '--json', ...http])).stdout) as {
      info: { peerId: string; roles: string[] }
      health: { status: string }
      relays: string[]
      peers: Array<{ peerId: string; name?: string; roles?: string[]; addrs: string[] }>
    }
    expect(status.info).toMatchObject({ peerId: sup.peerId, roles: ['supervisor'] })
    expect(status.health.status).toBe('ok')
    expect(status.relays).toEqual([])
    expect(status.peers).toContainEqual(
      expect.objectContaining({ peerId: run.peerId, name: 'run', roles: ['runner'], addrs: [run.addr] }),
    )
    const text = await horus(['node', 'status', ...http])
    expect(text.code).toBe(0)
    // On loopback only, the node is private and needs no relay (it has none to use): still ok.
    expect(text.stdout).toMatch(
      /^health {3}ok \(libp2p ok, datastore ok, peers ok, reachability private \(no public address: .*\)\)$/m,
    )

    const missing = await horus(['job', 'status', 'nope', ...http])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('[JOB_NOT_FOUND]')
  })

  it('exits 2 on usage errors and 3 when the mesh cannot be reached', async () => {
    expect((await horus(['job', 'create', '--payload', 'x', '--gateway', 'http://127.0.0.1:1'])).code).toBe(2)
    expect(
      (
        await horus([
          'job',
          'create',
          '--runner',
          'echo',
          '--payload',
          'x',
          '--input',
          '[1]',
          '--gateway',
          'http://127.0.0.1:1',
        ])
      ).code,
    ).toBe(2)
    expect((await horus(['workflow', 'submit'])).code).toBe(2)
    expect(
      (await horus(['workflow', 'list', '--status', 'odd', '--gateway', 'http://127.0.0.1:1'])).code,
    ).toBe(2)
    const unreachable = await horus([
      'job',
      'status',
      'x',
      '--peer',
      '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDGsPzBPtBR4ZTsmKfp',
    ])
    expect(unreachable.stderr).toContain('cannot reach')
    expect(unreachable.code).toBe(3)
    const gateway = await horus(['workflow', 'status', 'r1', '--gateway', 'http://127.0.0.1:1'])
    expect(gateway.code).toBe(3)
  })
})
