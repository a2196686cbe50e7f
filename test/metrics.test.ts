/**
 * `GET /metrics` on the gateway: behind the same token as every other route, in a text format a
 * strict exposition parser accepts, and moving with real work — a workflow run through a real
 * runner, RPC calls and errors, a queued job, a refused job, a rejected gossip message, and
 * anti-entropy with a second coordinator.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createJob } from '../src/protocols/jobs/index.js'
import { LIVENESS_TOPIC } from '../src/protocols/liveness/constants.js'
import { waitFor } from '../src/testing/index.js'
import { ClientMesh, ECHO_RUNNER, hears, runnerVisible } from './client-mesh.js'
import { type PromFamily, parsePromText, sampleValue } from './helpers/prom-text.js'

const TOKEN = 'metrics-test-token-0123456789'
const mesh = new ClientMesh()
afterEach(() => mesh.cleanup())

const WORKFLOW = `workflow:
  name: "metrics-demo"
  steps:
    - id: "first"
      runner: "echo"
      payload: "one"
    - id: "second"
      runner: "echo"
      depends_on: ["first"]
      payload: "two"
`

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  return parsePromText(await res.text())
}

async function rpc(
  url: string,
  method: string,
  params: unknown,
): Promise<{ result?: unknown; error?: unknown }> {
  const res = await fetch(`${url}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  return (await res.json()) as { result?: unknown; error?: unknown }
}

describe('GET /metrics', () => {
  it('exports what a run, RPC calls, refusals and anti-entropy did, in the Prometheus text format', async () => {
    const [c, r] = [await mesh.member('coord'), await mesh.member('worker')]
    const coord = await mesh.start(c, {
      roles: ['coordinator', 'supervisor'],
      extra: { gateway: { listen: '127.0.0.1:0', token: TOKEN } },
    })
    const worker = await mesh.start(r, {
      roles: ['coordinator', 'runner'],
      bootstrap: [coord],
      options: ECHO_RUNNER,
    })
    await runnerVisible(coord, 'echo')
    await hears(coord, [worker])
    const url = coord.node.gateway?.url as string

    // Same authentication as the rest of the gateway.
    expect((await fetch(`${url}/metrics`)).status).toBe(401)
    expect(
      (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
    ).toBe(401)
    const before = await scrape(url)
    for (const family of [
      'horus_runs',
      'horus_steps',
      'horus_step_duration_seconds',
      'horus_jobs',
      'horus_queue_depth',
      'horus_job_verifier_rejections_total',
      'horus_gossip_rejections_total',
      'horus_rpc_calls_total',
      'horus_rpc_errors_total',
      'horus_rpc_duration_seconds',
      'horus_peers',
      'horus_connections',
      'horus_lease_takeovers_total',
      'horus_anti_entropy_rounds_total',
      'horus_replica_pushes_total',
      'horus_replica_handoffs_total',
      'process_cpu_seconds_total',
    ]) {
      expect(before.get(family)?.help, family).toBeTruthy()
    }
    expect(before.get('horus_step_duration_seconds')?.type).toBe('histogram')
    expect(before.get('horus_rpc_calls_total')?.type).toBe('counter')
    expect(sampleValue(before, 'horus_runs', { status: 'completed' })).toBe(0)

    // A run through the gateway, to completion on the worker's runner.
    const submitted = await rpc(url, 'coordinator.submit_workflow', { workflow: WORKFLOW })
    const { runId } = submitted.result as { runId: string }
    const done = await rpc(url, 'coordinator.wait_for_completion', { runId, timeoutMs: 20_000 })
    expect((done.result as { status: string }).status).toBe('completed')
    // An RPC error, a job refused by the verifier, and one queued for a capability nobody serves.
    expect((await rpc(url, 'coordinator.get_workflow_status', { runId: 'no-such-run' })).error).toMatchObject(
      {
        data: { name: 'RunNotFoundError' },
      },
    )
    expect((await rpc(url, 'supervisor.create_job', { job: { id: 'forged' } })).error).toBeDefined()
    const waiting = createJob({ runner: 'nobody-serves-this' }, coord.node.trust.signer)
    expect(await rpc(url, 'supervisor.create_job', { job: waiting, waitForRunner: true })).toMatchObject({
      result: { status: 'queued' },
    })
    // An unsigned message on the liveness topic, through the topic's real validator.
    const validate = coord.node.libp2p.services.pubsub.topicValidators.get(LIVENESS_TOPIC)
    if (validate === undefined) throw new Error('no liveness validator')
    await validate(worker.node.libp2p.peerId, {
      type: 'unsigned',
      topic: LIVENESS_TOPIC,
      data: new Uint8Array(4),
    })
    // The worker's coordinator syncs with this one when it hears it.
    await waitFor(() => (coord.roles.coordinator?.stats().sync.rounds.ok ?? 0) > 0, {
      timeoutMs: 15_000,
      what: 'an anti-entropy round from the coordinator',
    })

    const after = await scrape(url)
    expect(sampleValue(after, 'horus_runs', { status: 'completed' })).toBe(1)
    expect(sampleValue(after, 'horus_steps', { state: 'succeeded' })).toBe(2)
    const stepLabels = { workflow: 'metrics-demo', runner: 'echo', outcome: 'succeeded' }
    expect(sampleValue(after, 'horus_step_duration_seconds', stepLabels, '_count')).toBe(2)
    expect(sampleValue(after, 'horus_step_duration_seconds', stepLabels, '_sum')).toBeGreaterThan(0)
    expect(sampleValue(after, 'horus_jobs', { status: 'succeeded', capability: 'echo' })).toBe(2)
    expect(sampleValue(after, 'horus_jobs', { status: 'queued', capability: 'nobody-serves-this' })).toBe(1)
    expect(sampleValue(after, 'horus_queue_depth', { capability: 'nobody-serves-this' })).toBe(1)
    expect(sampleValue(after, 'horus_job_verifier_rejections_total', { reason: 'malformed' })).toBe(1)
    expect(
      sampleValue(after, 'horus_gossip_rejections_total', { topic: LIVENESS_TOPIC, reason: 'unsigned' }),
    ).toBe(1)
    expect(sampleValue(after, 'horus_gossip_accepted_total', { topic: LIVENESS_TOPIC })).toBeGreaterThan(0)
    expect(sampleValue(after, 'horus_gossip_published_total', { topic: LIVENESS_TOPIC })).toBeGreaterThan(0)
    const submitCalls = { method: 'coordinator.submit_workflow', via: 'http' }
    expect(sampleValue(after, 'horus_rpc_calls_total', submitCalls)).toBe(1)
    expect(sampleValue(after, 'horus_rpc_duration_seconds', submitCalls, '_count')).toBe(1)
    expect(
      sampleValue(after, 'horus_rpc_errors_total', {
        method: 'coordinator.get_workflow_status',
        via: 'http',
        error: 'RunNotFoundError',
      }),
    ).toBe(1)
    // Supervisor calls from the coordinators and sync calls arrive over libp2p.
    expect(sampleValue(after, 'horus_rpc_calls_total', { via: 'libp2p' })).toBeGreaterThan(0)
    expect(sampleValue(after, 'horus_peers')).toBeGreaterThanOrEqual(1)
    expect(sampleValue(after, 'horus_connections')).toBeGreaterThanOrEqual(1)
    expect(sampleValue(after, 'horus_live_members', { role: 'runner' })).toBe(1)
    expect(sampleValue(after, 'horus_anti_entropy_rounds_total', { outcome: 'ok' })).toBeGreaterThan(0)
    expect(sampleValue(after, 'horus_node_info', { peer_id: coord.peerId })).toBe(1)

    // Counters never go down between scrapes.
    const again = await scrape(url)
    for (const name of [
      'horus_rpc_calls_total',
      'horus_job_verifier_rejections_total',
      'horus_gossip_accepted_total',
    ])
      expect(sampleValue(again, name)).toBeGreaterThanOrEqual(sampleValue(after, name))
  })
})

describe('the exposition parser used above', () => {
  it('refuses what Prometheus would refuse', () => {
    expect(() => parsePromText('x 1\n')).toThrow(/no # TYPE/)
    expect(() => parsePromText('# TYPE x counter\nx{a="b} 1\n')).toThrow(/unterminated/)
    expect(() => parsePromText('# TYPE x gauge\nx 1\nx 2\n')).toThrow(/twice/)
    expect(() => parsePromText('# TYPE x gauge\nx one\n')).toThrow(/bad value/)
    expect(() =>
      parsePromText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ).toThrow(/cumulative/)
    expect(() => parsePromText('# TYPE x gauge\nx 1')).toThrow(/newline/)
    const ok = parsePromText('# HELP x a \\\\ help\n# TYPE x gauge\nx{a="q\\"uote\\n"} 1.5e3\n')
    expect(ok.get('x')?.samples[0]).toEqual({ name: 'x', labels: { a: 'q"uote\n' }, value: 1500 })
    expect(ok.get('x')?.help).toBe('a \\ help')
  })
})
