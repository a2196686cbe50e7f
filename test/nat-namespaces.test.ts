/**
 * NAT traversal between real node processes in Linux network namespaces with no route between
 * two subnets: a runner in subnet `nat` (A), a coordinator+supervisor in subnet `lan` (B, where
 * this test process and its SDK client also sit), and a relay with a leg in each. The runner is
 * reachable only through the relay: it reserves a slot there, a workflow submitted in B runs on
 * it, and both sides report the relayed connection. Then the relay is killed: the mesh reports
 * the runner gone and refuses work for it at once (no_runner) instead of hanging. Needs root; the
 * namespaces are named `hf-<pid>-…` and removed in afterAll even when the test fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/horus-client.js'
import type { LivePeer } from '../src/client/types.js'
import type { NodeNatStatus } from '../src/node/nat/node-nat.js'
import type { NodeHealth, PeerSummary } from '../src/protocols/rpc/node-methods.js'
import { NemesisMesh } from '../src/testing/nemesis/nemesis-mesh.js'
import { waitFor } from '../src/testing/wait-for.js'

let mesh: NemesisMesh | undefined
let client: HorusClient | undefined

beforeAll(async () => {
  await NemesisMesh.prepare()
}, 120_000)

afterAll(async () => {
  await client?.close()
  await mesh?.close()
}, 60_000)

const WORKFLOW = `workflow:
  name: "across-the-relay"
  steps:
    - id: "add"
      runner: "sal"
      payload: "40 + 2"
`

describe('NAT traversal across network namespaces', () => {
  it('runs a workflow submitted in B on the runner in A through the relay, and reports the runner gone when the relay dies', async () => {
    mesh = new NemesisMesh()
    await mesh.start([
      { name: 'coord', roles: ['coordinator', 'supervisor'], subnets: ['lan'] },
      { name: 'relay', roles: [], subnets: ['lan', 'nat'], extra: { relay: { service: true } } },
      { name: 'runner', roles: ['runner'], subnets: ['nat'] },
    ])
    const m = mesh
    const relay = m.node('relay')
    const runner = m.node('runner')
    // The runner as B sees it: only through the relay's leg in B.
    const relayInB = `/ip4/${relay.host.addrs.get('lan')}/tcp/4001/p2p/${relay.peerId}`
    const runnerViaRelay = `${relayInB}/p2p-circuit/p2p/${runner.peerId}`

    const nat = await waitFor(
      () =>
        m
          .rpcAt<NodeNatStatus>(runnerViaRelay, 'node.nat', {}, 5_000)
          .then((s) => s.reservations.length > 0 && s),
      { timeoutMs: 60_000, intervalMs: 500, what: "the runner's reservation on the relay" },
    )
    expect(nat.reachability).toBe('private')
    expect(nat.reservations.map((r) => r.relay)).toEqual([relay.peerId])
    const runnerHealth = await m.rpcAt<NodeHealth>(runnerViaRelay, 'node.health')
    expect(runnerHealth.checks?.reachability).toContain(`reachable through relay ${relay.peerId}`)
    expect((await m.rpc<NodeNatStatus>('relay', 'node.nat')).service).toMatchObject({ reservations: 1 })

    await waitFor(
      async () =>
        (await m.rpc<LivePeer[]>('coord', 'mesh.liveness', { role: 'runner' })).some(
          (p) => p.peerId === runner.peerId,
        ),
      { timeoutMs: 30_000, intervalMs: 250, what: 'the runner heard in B' },
    )
    client = await HorusClient.connect({ bootstrap: [m.node('coord').addr], identity: m.clientDir })
    const runId = await client.submitWorkflow(WORKFLOW)
    const run = await client.waitForCompletion(runId, { signal: AbortSignal.timeout(60_000) })
    expect(run.status).toBe('completed')
    expect(run.steps.find((s) => s.id === 'add')?.output).toBe(42)

    // The supervisor reached the runner through the relay, and says so (the dashboard's field).
    const peers = await m.rpc<PeerSummary[]>('coord', 'node.peers')
    expect(peers.find((p) => p.peerId === runner.peerId)).toMatchObject({ relay: relay.peerId })

    await m.kill('relay')
    await waitFor(
      async () =>
        !(await m.rpc<LivePeer[]>('coord', 'mesh.liveness', { role: 'runner' })).some(
          (p) => p.peerId === runner.peerId,
        ),
      { timeoutMs: 30_000, intervalMs: 250, what: 'the runner reported gone in B' },
    )
    const refused = await client
      .createJob({ runner: 'sal', payload: '1 + 1' }, { signal: AbortSignal.timeout(30_000) })
      .then(
        () => undefined,
        (err: Error) => err,
      )
    expect(refused?.name).toBe('NoRunnerError')
    expect(refused?.message).toMatch(/no live runner offers capability "sal"/)
    expect((await m.rpc<PeerSummary[]>('coord', 'node.peers')).map((p) => p.peerId)).not.toContain(runner.peerId)
  }, 240_000)
})
