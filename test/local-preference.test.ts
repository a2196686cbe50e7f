/**
 * Where a job goes in a mesh of full nodes (each coordinator + supervisor + runner): to the
 * supervisor and runner of the coordinator's own node while they are usable and the runner has a
 * free slot, to the other node's when the local runner is full or a local role has failed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/roles/coordinator/index.js'
import { LOCAL_SUPERVISOR_MARGIN } from '../src/roles/coordinator/service/constants.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  type RunningMember,
  runnerVisible,
  step,
  TEST_KINDS,
  testKinds,
  waitForStatus,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const chain = (n: number, runner = 'echo') => ({
  workflow: {
    name: `chain-${n}`,
    steps: Array.from({ length: n }, (_, i) => ({
      id: `s${i}`,
      runner,
      payload: `p${i}`,
      ...(i === 0 ? {} : { depends_on: [`s${i - 1}`] }),
    })),
  },
})

/** Two full nodes, each runner running one job at a time, each seeing the other's runner. */
async function twoFullNodes(gates: Gates, executions: Executions): Promise<[RunningMember, RunningMember]> {
  const [ma, mb] = [await mesh.member('a'), await mesh.member('b')]
  const options = {
    runner: { builtins: false, concurrency: 1, kinds: testKinds(gates, executions) },
    coordinator: { runnerKinds: TEST_KINDS },
  }
  const roles = ['coordinator', 'supervisor', 'runner'] as const
  const a = await mesh.start(ma, { roles: [...roles], options })
  const b = await mesh.start(mb, { roles: [...roles], bootstrap: a, options })
  await runnerVisible(a, 'echo', b)
  await runnerVisible(b, 'echo', a)
  return [a, b]
}

async function run(at: RunningMember, n: number, runner?: string): Promise<RunView> {
  const coordinator = coordinatorOf(at)
  const runId = await coordinator.submit(chain(n, runner))
  return waitForStatus(coordinator, runId, ['completed', 'failed'], 30_000)
}

function placements(view: RunView): Array<{ supervisor?: string; runner?: string }> {
  return view.steps.map((s) => ({
    ...(s.supervisor === undefined ? {} : { supervisor: s.supervisor }),
    ...(s.runnerPeer === undefined ? {} : { runner: s.runnerPeer }),
  }))
}

describe('a mesh of full nodes prefers the node where a job was submitted', () => {
  it("runs a job submitted at either node on that node's supervisor and runner while its runner is free", async () => {
    const [a, b] = await twoFullNodes(new Gates(), new Executions())
    // Both nodes: with least-loaded choice alone one of them (the higher peer id loses ties) sent
    // its jobs to the other's runner.
    for (const at of [a, b]) {
      for (let i = 0; i < 3; i++) {
        const view = await run(at, 3)
        expect(view.status).toBe('completed')
        expect(placements(view)).toEqual(Array(3).fill({ supervisor: at.peerId, runner: at.peerId }))
      }
    }
  }, 60_000)

  it("sends the job to the other node's runner while the local one is full, and back once it is free", async () => {
    const gates = new Gates()
    const [a, b] = await twoFullNodes(gates, new Executions())
    const coordinator = coordinatorOf(a)
    const held = await coordinator.submit({
      workflow: { name: 'hold', steps: [{ id: 'hold', runner: 'gate', payload: 'g' }] },
    })
    await waitFor(() => gates.entered.has('g'), { what: 'the hold step to run', timeoutMs: 10_000 })

    const whileFull = await run(a, 1)
    expect(whileFull.status).toBe('completed')
    // The local supervisor still takes it (a function call) and hands it to B's free runner.
    expect(placements(whileFull)).toEqual([{ supervisor: a.peerId, runner: b.peerId }])

    gates.open('g')
    const done = await waitForStatus(coordinator, held, ['completed'])
    expect(step(done, 'hold').runnerPeer).toBe(a.peerId)
    const afterwards = await run(a, 1)
    expect(placements(afterwards)).toEqual([{ supervisor: a.peerId, runner: a.peerId }])
  }, 60_000)

  it('spreads jobs to the other supervisor once the local one has LOCAL_SUPERVISOR_MARGIN more in flight', async () => {
    const gates = new Gates()
    const [a, b] = await twoFullNodes(gates, new Executions())
    const coordinator = coordinatorOf(a)
    const width = LOCAL_SUPERVISOR_MARGIN + 5
    const runId = await coordinator.submit({
      workflow: {
        name: 'wide',
        steps: Array.from({ length: width }, (_, i) => ({ id: `w${i}`, runner: 'gate', payload: 'wide' })),
      },
    })
    // Every job is out (the runners hold two; the supervisors queue the rest) before any ends.
    const held = (m: RunningMember): number =>
      m.roles.supervisor?.list().filter((r) => r.job.id.startsWith(`${runId}/`)).length ?? 0
    await waitFor(() => held(a) + held(b) === width, {
      what: 'every step to be held by a supervisor',
      timeoutMs: 15_000,
    })
    const [onA, onB] = [held(a), held(b)]
    expect(onA + onB).toBe(width)
    expect(onB).toBeGreaterThan(0)
    expect(onA - onB).toBeGreaterThanOrEqual(LOCAL_SUPERVISOR_MARGIN)
    expect(onA - onB).toBeLessThanOrEqual(LOCAL_SUPERVISOR_MARGIN + 1)
    gates.open('wide')
    expect((await waitForStatus(coordinator, runId, ['completed'])).status).toBe('completed')
  }, 60_000)

  it('skips a local runner that has stopped and a local supervisor that has stopped', async () => {
    const [a, b] = await twoFullNodes(new Gates(), new Executions())
    await a.roles.runner?.stop()
    const noRunner = await run(a, 2)
    expect(noRunner.status).toBe('completed')
    expect(noRunner.steps.map((s) => s.runnerPeer)).toEqual([b.peerId, b.peerId])

    await a.roles.supervisor?.stop()
    const noSupervisor = await run(a, 2)
    expect(noSupervisor.status).toBe('completed')
    expect(placements(noSupervisor)).toEqual(Array(2).fill({ supervisor: b.peerId, runner: b.peerId }))
  }, 60_000)
})
