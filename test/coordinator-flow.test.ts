import { afterEach, describe, expect, it } from 'vitest'
import type { MonitorEvent } from '../src/protocols/events/index.js'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { RunView } from '../src/roles/coordinator/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  Executions,
  Gates,
  JobMesh,
  runnerVisible,
  step,
  submitParams,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('coordinator service, end to end through a supervisor and a runner', () => {
  it('submits over RPC, dispatches, completes, streams events and answers status, logs and metrics', async () => {
    const gates = new Gates()
    const executions = new Executions()
    const [h, r, c] = [await mesh.member('hub'), await mesh.member('run'), await mesh.member('cli')]
    const hub = await mesh.start(h, { roles: ['coordinator', 'supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: hub,
      options: { runner: { builtins: false, kinds: testKinds(gates, executions) } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: hub })
    await runnerVisible(hub, 'echo', run)
    const client = new Libp2pRpcClient({
      libp2p: cli.node.libp2p,
      target: hub.node.multiaddrs()[0] as string,
    })

    const events: MonitorEvent[] = []
    const sub = client.subscribe<MonitorEvent>('coordinator.events', {})
    await sub.id
    const collecting = (async () => {
      for await (const event of sub) events.push(event)
    })()

    const workflow = `
workflow:
  name: "two-steps"
  steps:
    - id: "a"
      runner: "echo"
      payload: "hello"
    - id: "b"
      runner: "echo"
      depends_on: ["a"]
      payload: { x: 1 }
`
    const { runId } = await client.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(cli, workflow),
    )
    const done = await client.call<RunView>(
      'coordinator.wait_for_completion',
      { runId, timeoutMs: 20_000 },
      { timeoutMs: 25_000 },
    )
    expect(done.status).toBe('completed')
    expect(done.owner).toBe(hub.peerId)
    expect(step(done, 'a')).toMatchObject({
      state: 'succeeded',
      attempt: 1,
      jobId: `${runId}/a/1`,
      output: { payload: 'hello', input: {} },
    })
    expect(step(done, 'b').output).toEqual({
      payload: '{"x":1}',
      input: { a: { payload: 'hello', input: {} } },
    })
    expect(step(done, 'b').dependsOn).toEqual(['a'])
    expect(step(done, 'b').runnerPeer).toBe(run.peerId)
    expect(step(done, 'b').supervisor).toBe(hub.peerId)

    await waitFor(() => events.some((e) => e.type === 'workflow_completed' && e.runId === runId), {
      what: 'workflow_completed event',
    })
    const types = events.filter((e) => e.runId === runId).map((e) => e.type)
    expect(types[0]).toBe('workflow_started')
    for (const t of ['step_dispatched', 'step_started', 'step_succeeded']) expect(types).toContain(t)
    expect(types.filter((t) => t === 'step_succeeded')).toHaveLength(2)
    expect(events.find((e) => e.type === 'workflow_completed')).toMatchObject({
      severity: 'info',
      node: hub.peerId,
    })

    const list = await client.call<Array<{ runId: string; status: string }>>('coordinator.list_workflows', {
      status: 'completed',
    })
    expect(list.map((r) => r.runId)).toContain(runId)
    const logs = await client.call<Array<{ message: string; stepId?: string }>>(
      'coordinator.get_workflow_logs',
      { runId, stepId: 'a' },
    )
    expect(logs.some((l) => l.message.includes('succeeded'))).toBe(true)
    const metrics = await client.call<{
      durationMs?: number
      steps: Array<{ id: string; attempts: number }>
    }>('coordinator.get_workflow_metrics', { runId })
    expect(metrics.steps).toEqual([
      expect.objectContaining({ id: 'a', attempts: 1 }),
      expect.objectContaining({ id: 'b', attempts: 1 }),
    ])
    expect(metrics.durationMs).toBeGreaterThanOrEqual(0)
    expect(await client.call('coordinator.pending_steps', { runId })).toEqual([])
    expect(await client.call('coordinator.get_workflow_errors', { runId })).toEqual([])
    await expect(client.call('coordinator.cancel_workflow', { runId })).rejects.toMatchObject({
      data: { name: 'RunFinishedError' },
    })
    await expect(client.call('coordinator.get_workflow_status', { runId: 'nope' })).rejects.toMatchObject({
      data: { name: 'RunNotFoundError' },
    })
    await expect(
      client.call(
        'coordinator.submit_workflow',
        submitParams(cli, { workflow: { name: 'x', steps: [{ id: 'a', runner: 'nope' }] } }),
      ),
    ).rejects.toMatchObject({
      data: {
        name: 'WorkflowValidationError',
        issues: [expect.objectContaining({ path: 'workflow.steps[0].runner' })],
      },
    })
    expect(executions.ofStep(runId, 'a')).toBe(1)

    await sub.unsubscribe()
    await collecting
    await client.close()
  })
})
