/** Acceptance 5 of the coordinator: cron and HTTP triggers start runs; a cron tick starts one run in all. */
import { afterEach, describe, expect, it } from 'vitest'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { CoordinatorService, RunView } from '../src/roles/coordinator/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  hookHeaders,
  JobMesh,
  registerParams,
  runnerVisible,
  TEST_KINDS,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const TICKED = {
  workflow: {
    name: 'ticked',
    inputs: { who: { default: 'cron' } },
    steps: [{ id: 'hello', runner: 'echo', payload: 'hi' }],
  },
}

function cronRuns(coordinator: CoordinatorService): string[] {
  return [...coordinator.engine.runs.keys()].filter((id) => id.startsWith('cron.every2s.'))
}

describe('triggers', () => {
  it('a cron trigger declared on two coordinators starts one run per tick', async () => {
    const [w, a, b] = [await mesh.member('work'), await mesh.member('coordA'), await mesh.member('coordB')]
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), new Executions()) } },
    })
    const trigger = { name: 'every2s', kind: 'cron' as const, schedule: '*/2 * * * * *', workflow: TICKED }
    const options = {
      coordinator: {
        supervisors: [work.node.multiaddrs()[0] as string],
        runnerKinds: TEST_KINDS,
        triggers: [trigger],
        triggerFallbackMs: 1_000,
      },
    }
    const coordA = await mesh.start(a, { roles: ['coordinator'], bootstrap: work, options })
    const coordB = await mesh.start(b, { roles: ['coordinator'], bootstrap: coordA, options })
    await runnerVisible(work, 'echo')
    const [ca, cb] = [coordinatorOf(coordA), coordinatorOf(coordB)]
    // Both see each other alive, so both agree on who starts each tick.
    await waitFor(
      () =>
        coordA.node.liveness.get(coordB.peerId)?.roles.includes('coordinator') &&
        coordB.node.liveness.get(coordA.peerId)?.roles.includes('coordinator'),
      { what: 'the coordinators to see each other' },
    )
    const skipBefore = new Set([...cronRuns(ca), ...cronRuns(cb)])
    // Two ticks after both coordinators were up, and each tick's fallback window has passed.
    const ticks = await waitFor(
      () => {
        const seen = [...new Set([...cronRuns(ca), ...cronRuns(cb)])].filter((id) => !skipBefore.has(id))
        return seen.length >= 2 ? seen.sort().slice(0, 2) : undefined
      },
      { timeoutMs: 15_000, what: 'two cron ticks' },
    )
    for (const runId of ticks) {
      const done = await ca.waitForCompletion(runId, 15_000)
      expect(done.status).toBe('completed')
      await waitFor(() => cb.runState(runId)?.terminal, { what: `B to hold ${runId}` })
      // One creation: a single workflow_started in the merged log of each replica.
      for (const c of [ca, cb]) {
        const started =
          c
            .runState(runId)
            ?.state.log()
            .filter((e) => e.type === 'workflow_started') ?? []
        expect(started, `workflow_started events of ${runId}`).toHaveLength(1)
      }
    }
    const tickTimes = ticks.map((id) => Number(id.split('.').pop()))
    expect((tickTimes[1] ?? 0) - (tickTimes[0] ?? 0)).toBe(2_000)
    expect((await ca.list()).filter((r) => ticks.includes(r.runId))).toHaveLength(2)
    expect(ca.listTriggers()).toEqual([
      expect.objectContaining({ name: 'every2s', kind: 'cron', schedule: '*/2 * * * * *' }),
    ])
  })

  it('an HTTP trigger registered over RPC starts a run on POST /hooks/<name> with the body as inputs', async () => {
    const [h, c] = [await mesh.member('hub'), await mesh.member('cli')]
    const executions = new Executions()
    const hub = await mesh.start(h, {
      roles: ['coordinator', 'supervisor', 'runner'],
      extra: { gateway: { listen: '127.0.0.1:0' } },
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), executions) } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: hub })
    const rpc = new Libp2pRpcClient({ libp2p: cli.node.libp2p, target: hub.node.multiaddrs()[0] as string })
    const workflow = {
      workflow: {
        name: 'hooked',
        inputs: { who: { required: true } },
        outputs: { greeting: 'steps.greet.output.input' },
        steps: [{ id: 'greet', runner: 'echo', payload: 'hello', when: "inputs.who != 'nobody'" }],
      },
    }
    const secret = 'greet-hook-secret-0123'
    expect(
      await rpc.call(
        'coordinator.register_trigger',
        registerParams(cli, { name: 'greet', kind: 'http', workflow, secret }),
      ),
    ).toEqual({ name: 'greet' })
    await expect(
      rpc.call('coordinator.register_trigger', { name: 'bad name!', kind: 'http', workflow }),
    ).rejects.toMatchObject({
      data: { name: 'TriggerInvalidError' },
    })
    await expect(
      rpc.call('coordinator.register_trigger', { name: 'c', kind: 'cron', schedule: 'not a cron', workflow }),
    ).rejects.toMatchObject({
      data: { name: 'TriggerInvalidError' },
    })
    const gateway = hub.node.gateway?.url as string
    const body = JSON.stringify({ who: 'world' })
    const res = await fetch(`${gateway}/hooks/greet`, {
      method: 'POST',
      headers: hookHeaders(secret, body),
      body,
    })
    expect(res.status).toBe(200)
    const { runId } = (await res.json()) as { runId: string }
    const done = await rpc.call<RunView>(
      'coordinator.wait_for_completion',
      { runId, timeoutMs: 15_000 },
      { timeoutMs: 20_000 },
    )
    expect(done.status).toBe('completed')
    expect(done.inputs).toEqual({ who: 'world' })
    expect(executions.ofStep(runId, 'greet')).toBe(1)

    const missing = await fetch(`${gateway}/hooks/greet`, {
      method: 'POST',
      headers: hookHeaders(secret, '{}'),
      body: '{}',
    })
    expect(missing.status).toBe(400)
    expect(((await missing.json()) as { error: { name: string } }).error.name).toBe('WorkflowInputError')
    expect((await fetch(`${gateway}/hooks/nope`, { method: 'POST' })).status).toBe(404)
    const triggers = await rpc.call<Array<{ name: string; lastFiredAt?: string }>>(
      'coordinator.list_triggers',
      {},
    )
    expect(triggers).toEqual([
      expect.objectContaining({ name: 'greet', kind: 'http', lastFiredAt: expect.any(String) }),
    ])
    await rpc.close()

    // Registered triggers are persisted: a restarted node serves the hook again.
    await mesh.stop(hub)
    const again = await mesh.start(h, {
      roles: ['coordinator', 'supervisor', 'runner'],
      extra: { gateway: { listen: '127.0.0.1:0' } },
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), executions) } },
    })
    const againBody = JSON.stringify({ who: 'again' })
    const second = await fetch(`${again.node.gateway?.url as string}/hooks/greet`, {
      method: 'POST',
      headers: hookHeaders(secret, againBody),
      body: againBody,
    })
    expect(second.status).toBe(200)
    const rerun = (await second.json()) as { runId: string }
    expect((await coordinatorOf(again).waitForCompletion(rerun.runId, 15_000)).status).toBe('completed')
    // The earlier run survived the restart too.
    expect((await coordinatorOf(again).status(runId)).status).toBe('completed')
  })
})
