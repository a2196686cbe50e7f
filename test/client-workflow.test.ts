import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  HorusClient,
  type MonitorEvent,
  RunExistsError,
  RunFinishedError,
  RunNotFoundError,
  type RunView,
  WorkflowValidationError,
} from '../src/client/index.js'
import { ClientMesh, hears, pipelineYaml, runnerVisible, serveItems } from './client-mesh.js'

const mesh = new ClientMesh()
const clients: HorusClient[] = []
let fixture: Awaited<ReturnType<typeof serveItems>>
beforeAll(async () => {
  fixture = await serveItems([3, 1, 4, 1, 5])
})
afterAll(() => fixture.close())
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()))
  await mesh.cleanup()
})

async function connect(options: Parameters<typeof HorusClient.connect>[0]): Promise<HorusClient> {
  const client = await HorusClient.connect(options)
  clients.push(client)
  return client
}

describe('HorusClient workflows against real coordinator, supervisor and runner nodes', () => {
  it('submits through a runner node, streams events, reports progress and completes', async () => {
    const [c, r, me] = [await mesh.member('coord'), await mesh.member('run'), await mesh.member('sdk')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor'] })
    const run = await mesh.start(r, { roles: ['runner'], bootstrap: [coord] })
    await runnerVisible(coord, 'hero')
    await hears(run, [coord])

    const client = await connect({ bootstrap: [run.addr], identity: me.dataDir })
    const events: MonitorEvent[] = []
    const watching = new AbortController()
    const collected = (async () => {
      for await (const event of client.events(undefined, { signal: watching.signal })) events.push(event)
    })()
    const runId = await client.submitWorkflow(pipelineYaml(fixture.url))
    const seen: RunView[] = []
    const done = await client.waitForCompletion(runId, {
      signal: AbortSignal.timeout(30_000),
      onProgress: (view) => seen.push(view),
    })
    expect(done.status).toBe('completed')
    expect(done.steps.map((s) => [s.id, s.state])).toEqual([
      ['fetch', 'succeeded'],
      ['count', 'succeeded'],
      ['total', 'succeeded'],
      ['store', 'succeeded'],
    ])
    expect(done.steps.find((s) => s.id === 'store')?.output).toMatchObject({ count: 5, sum: 14 })
    expect(seen.length).toBeGreaterThan(1)
    expect(seen.at(-1)?.status).toBe('completed')

    const types = (): string[] => events.filter((e) => e.runId === runId).map((e) => e.type)
    await expect.poll(types, { timeout: 10_000 }).toContain('workflow_completed')
    expect(types()).toContain('step_succeeded')
    watching.abort()
    await collected

    expect((await client.getStatus(runId)).status).toBe('completed')
    expect((await client.listWorkflows()).map((r) => r.runId)).toContain(runId)
    expect(Array.isArray(await client.logs(runId))).toBe(true)
    await expect(client.cancel(runId)).rejects.toBeInstanceOf(RunFinishedError)
    await expect(client.getStatus('no-such-run')).rejects.toBeInstanceOf(RunNotFoundError)
  })

  it('rebuilds a validation error with every issue and its path', async () => {
    const [c, me] = [await mesh.member('coord'), await mesh.member('sdk')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor', 'runner'] })
    const client = await connect({ bootstrap: [coord.addr], identity: me.dataDir })
    const bad = {
      workflow: {
        name: 'bad',
        steps: [
          { id: 'a', runner: 'sal', payload: '1', depends_on: ['ghost'] },
          { id: 'a', runner: 'sal', payload: '2' },
        ],
      },
    }
    const err = await client.submitWorkflow(bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WorkflowValidationError)
    const paths = (err as WorkflowValidationError).issues.map((i) => i.path)
    expect(paths.some((p) => p.includes('depends_on'))).toBe(true)
    expect(paths.some((p) => p.includes('steps[1]'))).toBe(true)
  })

  it("replays a run's events from its first one, after a given event, and after an SSE Last-Event-ID", async () => {
    const [c, me] = [await mesh.member('coord'), await mesh.member('sdk')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor', 'runner'], gateway: true })
    const client = await connect({ bootstrap: [coord.addr], identity: me.dataDir })
    const workflow = {
      workflow: {
        name: 'replayed',
        steps: [
          { id: 'a', runner: 'sal', payload: '1' },
          { id: 'b', runner: 'sal', payload: '2', depends_on: ['a'] },
        ],
      },
    }
    const runId = await client.submitWorkflow(workflow)
    // Subscribed right after submitting: workflow_started is not missed.
    const live: MonitorEvent[] = []
    for await (const event of client.events(runId, { signal: AbortSignal.timeout(20_000) })) {
      live.push(event)
      if (event.type === 'workflow_completed') break
    }
    expect(live[0]?.type).toBe('workflow_started')
    const ids = live.map((e) => e.id as string)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
    // The run is over: a new subscription still gets its whole history, or what followed an event.
    const again: MonitorEvent[] = []
    for await (const event of client.events(runId, {
      after: ids[1] as string,
      signal: AbortSignal.timeout(10_000),
    })) {
      again.push(event)
      if (event.type === 'workflow_completed') break
    }
    expect(again.map((e) => e.id)).toEqual(ids.slice(2))
    // EventSource's reconnection header does the same over the gateway, and each event has its SSE id.
    const res = await fetch(`${coord.node.gateway?.url}/rpc/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'last-event-id': ids[1] as string },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'coordinator.events.subscribe',
        params: { runId },
      }),
      signal: AbortSignal.timeout(10_000),
    })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!text.includes('workflow_completed')) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    await reader.cancel()
    expect([...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1])).toEqual(ids.slice(2))
    // `after` is per run.
    const refused = await fetch(`${coord.node.gateway?.url}/rpc/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'coordinator.events.subscribe',
        params: { after: '' },
      }),
    })
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /after needs runId/,
    )
  })

  it('keeps the run id the client chose over a gateway; the same id again answers the same run', async () => {
    const [c] = [await mesh.member('coord')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor', 'runner'], gateway: true })
    const client = await connect({ gateway: coord.node.gateway?.url as string })
    const workflow = { workflow: { name: 'chosen', steps: [{ id: 'a', runner: 'sal', payload: '1' }] } }
    const runId = await client.submitWorkflow(workflow, {}, { runId: 'gateway-chosen-1' })
    expect(runId).toBe('gateway-chosen-1')
    expect((await client.waitForCompletion(runId, { signal: AbortSignal.timeout(20_000) })).status).toBe(
      'completed',
    )
    // A retry of the same submission (same id, workflow, inputs) is the same run, not a second one.
    expect(await client.submitWorkflow(workflow, {}, { runId })).toBe(runId)
    expect((await client.listWorkflows()).filter((r) => r.workflow === 'chosen')).toHaveLength(1)
    // Another submission under that id is refused.
    await expect(client.submitWorkflow(workflow, { other: 1 }, { runId })).rejects.toBeInstanceOf(
      RunExistsError,
    )
    // Without a choice the client still picks a fresh id.
    const fresh = await client.submitWorkflow(workflow)
    expect(fresh).not.toBe(runId)
    // Pages over every run, and a search by name or id.
    const all = await client.listWorkflows()
    expect(all.map((r) => r.runId)).toEqual([fresh, runId])
    const first = await client.listWorkflows({ limit: 1 })
    expect(first.map((r) => r.runId)).toEqual([fresh])
    expect((await client.listWorkflows({ limit: 1, after: fresh })).map((r) => r.runId)).toEqual([runId])
    expect(await client.listWorkflows({ after: runId })).toEqual([])
    expect((await client.listWorkflows({ query: 'GATEWAY-chos' })).map((r) => r.runId)).toEqual([runId])
    expect((await client.listWorkflows({ query: 'chosen' })).length).toBe(2)
    await expect(client.listWorkflows({ after: 'no-such-run' })).rejects.toBeInstanceOf(RunNotFoundError)
    await expect(client.submitWorkflow(workflow, {}, { runId: 'cron.mine.1' })).rejects.toThrow(
      /reserved for triggers/,
    )
  })

  it('keeps answering when the coordinator it uses stops: another coordinator serves the replicated run', async () => {
    const names = ['c1', 'c2', 'run', 'sdk']
    const [m1, m2, mr, me] = [
      await mesh.member(names[0] as string),
      await mesh.member(names[1] as string),
      await mesh.member(names[2] as string),
      await mesh.member(names[3] as string),
    ]
    const run = await mesh.start(mr, { roles: ['runner'] })
    const c1 = await mesh.start(m1, { roles: ['coordinator', 'supervisor'], bootstrap: [run] })
    const c2 = await mesh.start(m2, { roles: ['coordinator', 'supervisor'], bootstrap: [run, c1] })
    await Promise.all([runnerVisible(c1, 'hero'), runnerVisible(c2, 'hero'), hears(run, [c1, c2])])

    const client = await connect({ bootstrap: [run.addr], identity: me.dataDir })
    const runId = await client.submitWorkflow(pipelineYaml(fixture.url))
    const first = await client.waitForCompletion(runId, { signal: AbortSignal.timeout(30_000) })
    expect(first.status).toBe('completed')
    const owner = first.owner === c2.peerId ? c2 : c1
    const survivor = owner === c1 ? c2 : c1
    // The survivor must have the run before the owner goes (state is replicated by gossip).
    const direct = await connect({ bootstrap: [survivor.addr], identity: me.dataDir })
    await expect
      .poll(async () => (await direct.getStatus(runId).catch(() => undefined))?.status, { timeout: 10_000 })
      .toBe('completed')
    await mesh.stop(owner)
    const again = await client.getStatus(runId, { signal: AbortSignal.timeout(20_000) })
    expect(again.status).toBe('completed')
    const second = await client.submitWorkflow(pipelineYaml(fixture.url, 'after-failover'))
    const done = await client.waitForCompletion(second, { signal: AbortSignal.timeout(30_000) })
    expect(done.status).toBe('completed')
    expect(done.owner).toBe(survivor.peerId)
  })
})
