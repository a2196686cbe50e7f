/**
 * NAT traversal between real node processes in Linux network namespaces with no route between
 * two subnets: a runner in subnet `nat` (A), a coordinator+supervisor in subnet `lan` (B, where
 * this test process and its SDK client also sit), and a relay with a leg in each. The runner is
 * reachable only through the relay: it reserves a slot there, a workflow submitted in B runs on
 * it over a limited relayed connection, both sides and the dashboard report that connection as
 * relayed. Then the relay is killed: the mesh reports the runner gone and refuses work for it at
 * once (no_runner) instead of hanging. Needs root; the namespaces are named `hn-<pid>-…` and
 * removed in afterAll even when the test fails. On failure each node's stderr is kept in
 * `test-artifacts/nat-namespaces/`. (It drives Chromium, so it runs in the browser project.)
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/horus-client.js'
import type { LivePeer } from '../src/client/types.js'
import type { NodeNatStatus } from '../src/node/nat/node-nat.js'
import type { NodeHealth, PeerSummary } from '../src/protocols/rpc/node-methods.js'
import { NemesisMesh } from '../src/testing/nemesis/nemesis-mesh.js'
import { waitFor } from '../src/testing/wait-for.js'
import { CHROMIUM_ARGS, chromiumPath } from './dashboard-browser.js'

const PREFIX = 'hn'
const ARTIFACTS = join('test-artifacts', 'nat-namespaces')
const GATEWAY_PORT = 8081
const GATEWAY_TOKEN = 'nat-namespaces-dashboard-token'

let mesh: NemesisMesh | undefined
let client: HorusClient | undefined

beforeAll(async () => {
  await NemesisMesh.prepare(PREFIX)
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

/** Each node's stderr, for the failure at hand. */
async function keepLogs(m: NemesisMesh): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true })
  for (const node of m.nodes.values())
    await writeFile(join(ARTIFACTS, `${node.spec.name}.log`), node.process?.stderr() ?? '')
}

describe('NAT traversal across network namespaces', () => {
  it('runs a workflow submitted in B on the runner in A through the relay, and reports the runner gone when the relay dies', async () => {
    mesh = new NemesisMesh({
      prefix: PREFIX,
      env: { DEBUG: process.env.NAT_NODE_DEBUG ?? 'horus:nat,horus:supervisor*' },
    })
    const m = mesh
    try {
      await scenario(m)
    } catch (err) {
      await keepLogs(m)
      throw err
    }
  }, 240_000)
})

async function scenario(m: NemesisMesh): Promise<void> {
  await m.start([
    {
      name: 'coord',
      roles: ['coordinator', 'supervisor'],
      subnets: ['lan'],
      extra: { gateway: { listen: `0.0.0.0:${GATEWAY_PORT}`, token: GATEWAY_TOKEN } },
    },
    { name: 'relay', roles: [], subnets: ['lan', 'nat'], extra: { relay: { service: true } } },
    { name: 'runner', roles: ['runner'], subnets: ['nat'] },
  ])
  const coord = m.node('coord')
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
  const service = (await m.rpc<NodeNatStatus>('relay', 'node.nat')).service
  // The coordinator, on private addresses too, may hold one as well.
  expect(service?.holders).toContain(runner.peerId)
  expect(service?.limits).toEqual({ durationMs: 3_600_000, dataBytes: 128 * 1024 * 1024 })

  await waitFor(
    async () =>
      (await m.rpc<LivePeer[]>('coord', 'mesh.liveness', { role: 'runner' })).some(
        (p) => p.peerId === runner.peerId,
      ),
    { timeoutMs: 30_000, intervalMs: 250, what: 'the runner heard in B' },
  )
  client = await HorusClient.connect({ bootstrap: [coord.addr], identity: m.clientDir })
  const runId = await client.submitWorkflow(WORKFLOW)
  const run = await client.waitForCompletion(runId, { signal: AbortSignal.timeout(60_000) })
  expect(run.status).toBe('completed')
  expect(run.steps.find((s) => s.id === 'add')?.output).toBe(42)

  // The supervisor reached the runner through the relay, on a limited connection, and says so.
  const peers = await m.rpc<PeerSummary[]>('coord', 'node.peers')
  expect(peers.find((p) => p.peerId === runner.peerId)).toMatchObject({ relay: relay.peerId, limited: true })
  await dashboardMarksRelayed(
    `http://${coord.host.addrs.get('lan')}:${GATEWAY_PORT}/`,
    runner.peerId,
    relay.peerId,
  )

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
  expect((await m.rpc<PeerSummary[]>('coord', 'node.peers')).map((p) => p.peerId)).not.toContain(
    runner.peerId,
  )
}

/** The coordinator's dashboard shows the runner's row with the "relayed" badge naming the relay. */
async function dashboardMarksRelayed(url: string, runner: string, relay: string): Promise<void> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
  try {
    const context = await browser.newContext({
      extraHTTPHeaders: { authorization: `Bearer ${GATEWAY_TOKEN}` },
    })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(url, { timeout: 15_000 })
    const badge = page.locator(`tr[data-peer="${runner}"] .badge.relayed`)
    await badge.waitFor({ timeout: 15_000 })
    expect(await badge.getAttribute('data-relay')).toBe(relay)
    expect(await badge.getAttribute('title')).toContain('limited connection')
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-relayed.png'), fullPage: true })
    expect(errors).toEqual([])
  } finally {
    await browser.close()
  }
}
