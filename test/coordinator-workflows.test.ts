/**
 * The workflow features through real nodes in this process (coordinator, supervisor, runners on
 * loopback): for_each with env and run inputs, steps after a failure, big outputs between runners
 * on different nodes, signals and reruns with run-level authorization, and triggers replicated
 * between coordinators. The same features across OS processes: workflow-processes.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { RunView } from '../src/roles/coordinator/index.js'
import type { KindHandler } from '../src/roles/runner/index.js'
import { waitFor } from '../src/testing/index.js'
import { refusal, startAuthorityMesh } from './authority-fixtures.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  type RunningMember,
  registerParams,
  runnerVisible,
  step,
  submitParams,
  TEST_KINDS,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

function rpc(from: RunningMember, to: RunningMember): Libp2pRpcClient {
  return mesh.client(from, to)
}

async function waitDone(client: Libp2pRpcClient, runId: string): Promise<RunView> {
  return client.call<RunView>(
    'coordinator.wait_for_completion',
    { runId, timeoutMs: 30_000 },
    { timeoutMs: 35_000 },
  )
}

/** Kinds that show what a job saw, fail on demand, and make or read a large output. */
function kinds(): Record<string, KindHandler> {
  return {
    emit: async (job, ctx) => ({
      input: job.input,
      env: Object.fromEntries(Object.entries(ctx.env).filter(([k]) => k.startsWith('WF_'))),
      inputs: job.context?.inputs ?? null,
      run: job.context?.run ?? null,
    }),
    boom: async (job) => {
      throw new Error(`boom: ${job.payload}`)
    },
    big: async (job) => ({
      rows: Array.from({ length: Number(job.payload) }, (_, i) => `row-${i}-${'x'.repeat(90)}`),
    }),
    measure: async (job) => {
      const rows = (job.input.big as { rows?: string[] } | undefined)?.rows ?? []
      return { rows: rows.length, last: rows.at(-1) ?? null }
    },
  }
}

async function hubAndRunners(): Promise<{ hub: RunningMember; other: RunningMember; cli: RunningMember }> {
  const [h, r1, r2, c] = [
    await mesh.member('hub'),
    await mesh.member('run1'),
    await mesh.member('run2'),
    await mesh.member('cli'),
  ]
  const hub = await mesh.start(h, {
    roles: ['coordinator', 'supervisor'],
    options: { coordinator: { runnerKinds: ['emit', 'boom', 'big', 'measure'] } },
  })
  const all = kinds()
  const { big, ...rest } = all
  // `big` runs on one node, `measure` (and the rest) on another: the output must travel.
  const producer = await mesh.start(r1, {
    roles: ['runner'],
    bootstrap: hub,
    options: { runner: { builtins: false, kinds: { big: big as KindHandler } } },
  })
  const other = await mesh.start(r2, {
    roles: ['runner'],
    bootstrap: hub,
    options: { runner: { builtins: false, kinds: rest } },
  })
  const cli = await mesh.start(c, { roles: [], bootstrap: hub })
  await runnerVisible(hub, 'big', producer)
  await runnerVisible(hub, 'measure', other)
  return { hub, other, cli }
}

describe('workflows through real nodes', () => {
  it('maps over run-time data with env and run inputs, then cleans up after a failure and runs on_failure', async () => {
    const { hub, cli } = await hubAndRunners()
    const client = rpc(cli, hub)
    const workflow = {
      workflow: {
        name: 'mapped',
        inputs: { region: { default: 'eu' }, items: { required: true } },
        steps: [
          { id: 'list', runner: 'emit', payload: 'x' },
          {
            id: 'each',
            runner: 'emit',
            depends_on: ['list'],
            for_each: 'steps.list.output.inputs.items',
            max_parallel: 2,
            env: { WF_ITEM: 'item', WF_INDEX: 'index', WF_REGION: 'inputs.region' },
          },
          { id: 'fail', runner: 'boom', payload: 'on purpose', depends_on: ['each'] },
          { id: 'later', runner: 'emit', depends_on: ['fail'] },
          { id: 'cleanup', runner: 'emit', depends_on: ['later'], trigger_rule: 'all_done' },
        ],
        on_failure: [{ id: 'alert', runner: 'emit', env: { WF_FAILED: 'run.error.step' } }],
      },
    }
    const { runId } = await client.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(cli, workflow, { region: 'us', items: ['a', 'b', 'c'] }),
    )
    const done = await waitDone(client, runId)
    expect(done.status).toBe('failed')
    expect(done.error).toMatchObject({ step: 'fail', name: 'Error' })
    expect(step(done, 'each')).toMatchObject({
      state: 'succeeded',
      kind: 'job',
      items: { total: 3, counts: { succeeded: 3 } },
    })
    const outputs = step(done, 'each').output as Array<{
      input: unknown
      env: Record<string, string>
      inputs: unknown
    }>
    expect(outputs.map((o) => [o.input, o.env])).toEqual([
      [
        { item: 'a', index: 0 },
        { WF_ITEM: 'a', WF_INDEX: '0', WF_REGION: 'us' },
      ],
      [
        { item: 'b', index: 1 },
        { WF_ITEM: 'b', WF_INDEX: '1', WF_REGION: 'us' },
      ],
      [
        { item: 'c', index: 2 },
        { WF_ITEM: 'c', WF_INDEX: '2', WF_REGION: 'us' },
      ],
    ])
    expect(outputs[0]?.inputs).toEqual({ region: 'us', items: ['a', 'b', 'c'] })
    expect(step(done, 'later')).toMatchObject({ state: 'cancelled', reason: 'run_failed' })
    expect(step(done, 'cleanup')).toMatchObject({ state: 'succeeded', triggerRule: 'all_done' })
    expect(step(done, 'alert')).toMatchObject({ state: 'succeeded', onFailure: true })
    expect((step(done, 'alert').output as { env: unknown; run: unknown }).env).toEqual({ WF_FAILED: 'fail' })
    expect((step(done, 'alert').output as { run: { error: unknown } }).run.error).toMatchObject({
      step: 'fail',
      type: 'Error',
    })
    const items = await client.call<{ total: number; items: { id: string; state: string }[] }>(
      'coordinator.get_step_items',
      {
        runId,
        stepId: 'each',
        offset: 1,
        limit: 5,
      },
    )
    expect(items).toMatchObject({ total: 3, offset: 1 })
    expect(items.items.map((i) => [i.id, i.state])).toEqual([
      ['each[1]', 'succeeded'],
      ['each[2]', 'succeeded'],
    ])
  })

  it('passes an output over the inline limit from a runner on one node to a runner on another, as a blob', async () => {
    const { hub, cli } = await hubAndRunners()
    const client = rpc(cli, hub)
    const rows = 20_000 // about 2 MB of canonical JSON
    const workflow = {
      workflow: {
        name: 'big',
        outputs: { measured: 'steps.measure.output', raw: 'steps.big.output' },
        steps: [
          { id: 'big', runner: 'big', payload: String(rows) },
          { id: 'measure', runner: 'measure', depends_on: ['big'], when: 'steps.big.output.rows.length > 0' },
        ],
      },
    }
    const { runId } = await client.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(cli, workflow),
    )
    const done = await waitDone(client, runId)
    expect(done.status, JSON.stringify(done.steps.map((s) => [s.id, s.state, s.error]))).toBe('completed')
    expect(step(done, 'measure').output).toEqual({ rows, last: `row-${rows - 1}-${'x'.repeat(90)}` })
    // The big output is a reference everywhere it is shown; the coordinator holds the bytes.
    const ref = step(done, 'big').output as { $blob: string; size: number }
    expect(ref.$blob).toMatch(/^[0-9a-f]{64}$/)
    expect(ref.size).toBeGreaterThan(1_000_000)
    expect(done.outputs?.raw).toMatchObject({ $blob: ref.$blob, size: ref.size })
    expect(await hub.node.blobs.store.size(ref.$blob)).toBe(ref.size)
  })
})

describe('signals and reruns with run-level authorization', () => {
  it('only the submitter or an admin may signal or rerun a run, and each attempt is audited', async () => {
    const { hub, alice, bob, admin } = await startAuthorityMesh(mesh)
    const asAlice = rpc(alice, hub)
    const asBob = rpc(bob, hub)
    const asAdmin = rpc(admin, hub)
    const workflow = {
      workflow: {
        name: 'approval',
        steps: [
          { id: 'approve', wait_for_signal: 'go' },
          { id: 'ship', runner: 'hero', depends_on: ['approve'], payload: 'ship' },
        ],
      },
    }
    const { runId } = await asAlice.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(alice, workflow),
    )
    const waitsForGo = async () =>
      (await asAlice.call<RunView>('coordinator.get_workflow_status', { runId })).waitingFor.includes('go')
    await waitFor(waitsForGo, { what: 'the run to wait for the signal' })
    expect((await refusal(asBob.call('coordinator.signal_workflow', { runId, name: 'go' }))).data.name).toBe(
      'RunAccessDeniedError',
    )
    expect(
      (await refusal(asAlice.call('coordinator.signal_workflow', { runId, name: 'og' }))).data.name,
    ).toBe('UnknownSignalError')
    // Nobody approves: the run is cancelled, which leaves it to be rerun.
    await asAlice.call('coordinator.cancel_workflow', { runId })
    const cancelled = await waitDone(asAlice, runId)
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.retryable).toBe(true)

    expect((await refusal(asBob.call('coordinator.retry_workflow', { runId }))).data.name).toBe(
      'RunAccessDeniedError',
    )
    const rerun = await asAlice.call<RunView>('coordinator.retry_workflow', { runId })
    expect(rerun).toMatchObject({ status: 'running', epoch: 1 })
    await waitFor(waitsForGo, { what: 'the rerun to wait for the signal' })
    await asAdmin.call('coordinator.signal_workflow', { runId, name: 'go', data: { by: 'admin' } })
    const done = await waitDone(asAlice, runId)
    expect(done.status).toBe('completed')
    expect(step(done, 'approve').output).toEqual({ by: 'admin' })
    // Cancelled (never run) in the first epoch, so the rerun's attempt is its second.
    expect(step(done, 'ship')).toMatchObject({ state: 'succeeded', attempt: 2, jobId: `${runId}/ship/2` })
    const audit = coordinatorOf(hub)
      .runState(runId)
      ?.state.log()
      .filter((e) => e.type === 'audit')
      .map((e) => e.data as { action: string; allowed: boolean; key: string })
      .filter((d) => d.action === 'retry' || d.action === 'signal')
      .map((d) => [
        d.action,
        d.allowed,
        d.key === alice.node.identity.publicKeyHex
          ? 'alice'
          : d.key === bob.node.identity.publicKeyHex
            ? 'bob'
            : 'admin',
      ])
    expect(audit).toEqual([
      ['signal', false, 'bob'],
      ['signal', true, 'alice'],
      ['retry', false, 'bob'],
      ['retry', true, 'alice'],
      ['signal', true, 'admin'],
    ])
  })
})

describe('triggers replicated between coordinators', () => {
  it('a trigger registered on one coordinator is served by the other, and removed from both', async () => {
    const [a, b, c] = [await mesh.member('coordA'), await mesh.member('coordB'), await mesh.member('cli')]
    const coordA = await mesh.start(a, { roles: ['coordinator'] })
    const coordB = await mesh.start(b, { roles: ['coordinator'], bootstrap: coordA })
    const cli = await mesh.start(c, { roles: [], bootstrap: coordA })
    await waitFor(
      () =>
        coordA.node.liveness.get(coordB.peerId) !== undefined &&
        coordB.node.liveness.get(coordA.peerId) !== undefined,
      {
        what: 'the coordinators to see each other',
      },
    )
    const workflow = {
      workflow: { name: 'ticked', steps: [{ id: 'a', runner: 'hero', payload: '!!shell.exec cmd:true' }] },
    }
    const params = registerParams(cli, { name: 'nightly', kind: 'cron', schedule: '0 3 * * *', workflow })
    await rpc(cli, coordA).call('coordinator.register_trigger', params)
    const listed = await waitFor(
      async () => {
        const triggers = await rpc(cli, coordB).call<
          Array<{ name: string; source: string; registeredBy?: string }>
        >('coordinator.list_triggers', {})
        return triggers.find((t) => t.name === 'nightly')
      },
      { what: 'B to serve the trigger registered on A' },
    )
    expect(listed).toMatchObject({ source: 'registered', registeredBy: cli.peerId, overlap: 'skip' })
    // Only its registrant (or an admin) may remove it; a stranger is refused.
    await rpc(cli, coordB).call('coordinator.remove_trigger', { name: 'nightly' })
    await waitFor(
      async () => (await rpc(cli, coordA).call<unknown[]>('coordinator.list_triggers', {})).length === 0,
      {
        what: 'A to drop the trigger removed on B',
      },
    )
    expect(
      (await refusal(rpc(cli, coordA).call('coordinator.remove_trigger', { name: 'nightly' }))).data.name,
    ).toBe('TriggerNotFoundError')
  })
})

describe('cron triggers: overlap and catch-up', () => {
  const TICKED = (payload: string) => ({
    workflow: { name: 'ticked', steps: [{ id: 'work', runner: 'gate', payload }] },
  })

  it('overlap skip waits for the previous run; cancel_previous replaces it', async () => {
    const gates = new Gates()
    const [h, r, c] = [await mesh.member('hub'), await mesh.member('run'), await mesh.member('cli')]
    const hub = await mesh.start(h, {
      roles: ['coordinator', 'supervisor'],
      options: { coordinator: { runnerKinds: TEST_KINDS } },
    })
    const runner = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: hub,
      options: { runner: { builtins: false, kinds: testKinds(gates, new Executions()) } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: hub })
    await runnerVisible(hub, 'gate', runner)
    const coordinator = coordinatorOf(hub)
    const runsOf = (name: string) =>
      [...coordinator.engine.runs.keys()].filter((id) => id.startsWith(`cron.${name}.`)).sort()
    const register = (overlap: string) =>
      rpc(cli, hub).call(
        'coordinator.register_trigger',
        registerParams(cli, {
          name: 'tick',
          kind: 'cron',
          schedule: '* * * * * *',
          workflow: TICKED('held'),
          overlap: overlap as 'skip',
        }),
      )
    await register('skip')
    const first = await waitFor(() => runsOf('tick')[0], { what: 'the first tick' })
    // Three more ticks pass while the first run holds: each is skipped.
    const tickOf = (id: string) => Number(id.split('.').pop())
    await waitFor(() => (coordinator.triggers.replica.set.lastTick('tick') ?? 0) >= tickOf(first) + 3_000, {
      what: 'three more ticks',
    })
    expect(runsOf('tick')).toEqual([first])
    await register('cancel_previous')
    const second = await waitFor(() => runsOf('tick').find((id) => id !== first), {
      what: 'a tick after the switch',
    })
    await waitFor(() => coordinator.runState(first)?.status === 'cancelled', {
      what: 'the first run to be cancelled',
    })
    expect(coordinator.runState(first)?.state.cancelled?.reason).toMatch(
      /^trigger tick: replaced by the run of tick/,
    )
    expect(coordinator.runState(second)?.terminal).toBe(false)
    await rpc(cli, hub).call('coordinator.remove_trigger', { name: 'tick' })
    gates.open('held')
  })

  it('after all coordinators were down, catch_up starts the latest missed ticks', async () => {
    const [h, r, c] = [await mesh.member('hub'), await mesh.member('run'), await mesh.member('cli')]
    const options = { coordinator: { runnerKinds: TEST_KINDS } }
    let hub = await mesh.start(h, { roles: ['coordinator', 'supervisor'], options })
    const runner = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: hub,
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), new Executions()) } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: hub })
    await runnerVisible(hub, 'echo', runner)
    const workflow = { workflow: { name: 'ticked', steps: [{ id: 'work', runner: 'echo', payload: 'x' }] } }
    await rpc(cli, hub).call(
      'coordinator.register_trigger',
      registerParams(cli, {
        name: 'every',
        kind: 'cron',
        schedule: '* * * * * *',
        workflow,
        overlap: 'allow',
        catch_up: 2,
      }),
    )
    const runsOf = (member: RunningMember) =>
      [...coordinatorOf(member).engine.runs.keys()]
        .filter((id) => id.startsWith('cron.every.'))
        .map((id) => Number(id.split('.').pop()))
    await waitFor(() => runsOf(hub).length > 0, { what: 'a first tick' })
    await mesh.stop(hub)
    const downAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 4_000)) // the mesh is down: no coordinator ticks
    hub = await mesh.start(h, { roles: ['coordinator', 'supervisor'], options })
    const upAt = Date.now()
    const caught = await waitFor(
      () => {
        const missed = runsOf(hub).filter((tick) => tick > downAt + 1_000 && tick < upAt - 1_000)
        return missed.length >= 2 ? missed : undefined
      },
      { what: 'the missed ticks to be started' },
    )
    // At most the latest two missed ticks: the ones just before the restart.
    expect(caught.length).toBe(2)
    expect(Math.min(...caught)).toBeGreaterThanOrEqual(upAt - 4_000)
  })
})
