/**
 * Acceptance 3 and 4 of the coordinator: a run survives the death of its owner, and coordinators
 * that changed a run on both sides of a partition converge to the same state once it heals.
 */

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { DATASTORE_DIR } from '../src/node/constants.js'
import type { RunState } from '../src/protocols/state/run-state.js'
import type { CoordinatorOptions } from '../src/roles/coordinator/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  Partition,
  runnerVisible,
  step,
  TEST_KINDS,
  testKinds,
  waitForInFlight,
  waitForStatus,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

async function cluster(
  coordinator: Omit<CoordinatorOptions, 'localSupervisor' | 'localRunner'>,
  bootstrapB: boolean,
) {
  const gates = new Gates()
  const executions = new Executions()
  const partition = new Partition()
  const [w, a, b] = [await mesh.member('work'), await mesh.member('coordA'), await mesh.member('coordB')]
  const work = await mesh.start(w, {
    roles: ['supervisor', 'runner'],
    connectionGater: partition.gater(w),
    options: { runner: { builtins: false, concurrency: 8, kinds: testKinds(gates, executions) } },
  })
  const options = {
    coordinator: {
      supervisors: [work.node.multiaddrs()[0] as string],
      runnerKinds: TEST_KINDS,
      ...coordinator,
    },
  }
  const coordA = await mesh.start(a, {
    roles: ['coordinator'],
    bootstrap: work,
    connectionGater: partition.gater(a),
    options,
  })
  const coordB = await mesh.start(b, {
    roles: ['coordinator'],
    ...(bootstrapB ? { bootstrap: coordA } : {}),
    connectionGater: partition.gater(b),
    options,
  })
  if (!bootstrapB) await coordB.node.libp2p.dial(multiaddr(coordA.node.multiaddrs()[0] as string))
  await runnerVisible(work, 'gate')
  // Both coordinators gossip on the state topic before anything is submitted.
  await waitFor(
    () =>
      coordA.node.libp2p.services.pubsub
        .getSubscribers('horus/v1/state')
        .some((p) => p.toString() === coordB.peerId) &&
      coordB.node.libp2p.services.pubsub
        .getSubscribers('horus/v1/state')
        .some((p) => p.toString() === coordA.peerId),
    { what: 'the coordinators to see each other on the state topic' },
  )
  return { gates, executions, partition, work, coordA, coordB }
}

function succeededEvents(state: RunState, stepId: string): number {
  return state.log().filter((e) => e.kind === 'event' && e.type === 'step_succeeded' && e.step === stepId)
    .length
}

describe('two coordinators', () => {
  it('the owner is killed mid-run; the other takes over and finishes it, every result recorded once', async () => {
    const { gates, executions, work, coordA, coordB } = await cluster(
      { leaseTtlMs: 1_500, leaseGraceMs: 300, leaseCheckMs: 100 },
      true,
    )
    const a = coordinatorOf(coordA)
    const b = coordinatorOf(coordB)
    const runId = await a.submit({
      workflow: {
        name: 'survivor',
        steps: [
          { id: 'first', runner: 'echo', payload: '1' },
          { id: 'slow', runner: 'gate', payload: 'owner-dies', depends_on: ['first'] },
          { id: 'side', runner: 'gate', payload: 'owner-dies', depends_on: ['first'] },
          { id: 'last', runner: 'echo', payload: 'z', depends_on: ['slow', 'side'] },
        ],
      },
    })
    // B holds the run with both gated steps in flight, owned by A.
    await waitForInFlight(b, runId, coordA.peerId, ['slow', 'side'], 'B to see the run in flight under A')
    await mesh.stop(coordA)
    // The jobs finish while no coordinator listens to them.
    gates.open('owner-dies')
    await waitFor(() => work.roles.supervisor?.status(`${runId}/slow/1`).status === 'succeeded', {
      what: 'slow to finish',
    })

    const view = await waitForStatus(b, runId, ['completed', 'failed', 'cancelled'], 20_000)
    expect(view.status).toBe('completed')
    expect(view.owner).toBe(coordB.peerId)
    for (const id of ['first', 'slow', 'side', 'last'])
      expect(step(view, id)).toMatchObject({ state: 'succeeded', attempt: 1 })
    expect(step(view, 'last').output).toMatchObject({
      input: { slow: { gate: 'owner-dies' }, side: { gate: 'owner-dies' } },
    })
    const state = b.runState(runId)?.state as RunState
    for (const id of ['first', 'slow', 'side', 'last']) {
      expect(succeededEvents(state, id), `step_succeeded events of ${id}`).toBe(1)
      expect(executions.ofStep(runId, id), `executions of ${id}`).toBe(1)
    }
    expect(state.log().some((e) => e.type === 'node_status' && e.message.includes('took over'))).toBe(true)
  })

  it("the new owner follows the old owner's job; its supervisor loses it; its own envelope's result is believed", async () => {
    const { gates, work, coordA, coordB } = await cluster(
      { leaseTtlMs: 1_500, leaseGraceMs: 300, leaseCheckMs: 100 },
      true,
    )
    const a = coordinatorOf(coordA)
    const b = coordinatorOf(coordB)
    const runId = await a.submit({
      workflow: {
        name: 'adopted-then-lost',
        steps: [
          { id: 'held', runner: 'gate', payload: 'lost' },
          { id: 'after', runner: 'echo', payload: 'z', depends_on: ['held'] },
        ],
      },
    })
    await waitFor(
      async () => {
        const view = await b.status(runId).catch(() => undefined)
        return view?.owner === coordA.peerId && step(view, 'held').state === 'running'
      },
      { what: 'B to see the step in flight under A' },
    )
    await mesh.stop(coordA)
    // B takes over and follows A's envelope where it is (adopting it: A signed it, not B).
    await waitFor(() => b.stats().adoptions.adopted === 1, { what: "B to follow A's job", timeoutMs: 20_000 })
    // The supervisor loses it (its datastore gone): asked again, it has no such job.
    await mesh.stop(work)
    await rm(join(work.dataDir, DATASTORE_DIR), { recursive: true, force: true })
    gates.open('lost')
    await mesh.start(work, {
      roles: ['supervisor', 'runner'],
      bootstrap: coordB,
      options: { runner: { builtins: false, concurrency: 8, kinds: testKinds(gates, new Executions()) } },
    })
    // B sends its own envelope: the result answering it must be believed, not refused as the
    // answer to another job (the adopted envelope's digest was still expected: wrong_job).
    const view = await waitForStatus(b, runId, ['completed', 'failed', 'cancelled'], 40_000)
    expect(await b.errors(runId)).toEqual([])
    expect(view.status).toBe('completed')
    expect(step(view, 'held')).toMatchObject({ state: 'succeeded', attempt: 1, output: { gate: 'lost' } })
  })

  it('an owner whose step id another coordinator holds (it looked for it while taking over) still gets the step run', async () => {
    const { gates, work, coordA, coordB } = await cluster(
      { leaseTtlMs: 1_500, leaseGraceMs: 300, leaseCheckMs: 100 },
      true,
    )
    const a = coordinatorOf(coordA)
    const runId = await a.submit({
      workflow: {
        name: 'held-id',
        steps: [
          { id: 'first', runner: 'gate', payload: 'held' },
          { id: 'next', runner: 'echo', payload: 'n', depends_on: ['first'] },
        ],
      },
    })
    await waitFor(() => gates.entered.has('held'), { what: 'the first step to run' })
    // B looks for the next step's job as a coordinator taking the run over does: the supervisor
    // does not have it and holds its id for B. The lease stays with A (as when A re-acquired it
    // after B's look-up): A's envelope is refused there until A looks for it itself.
    const asB = mesh.client(coordB, work)
    await expect(
      asB.call('supervisor.get_job_result', { jobId: `${runId}/next/1`, reserve: true }),
    ).rejects.toMatchObject({ name: 'JobNotFoundError' })
    gates.open('held')
    const view = await waitForStatus(a, runId, ['completed', 'failed', 'cancelled'], 20_000)
    expect(view.status).toBe('completed')
    expect(view.owner).toBe(coordA.peerId)
    expect(step(view, 'next')).toMatchObject({ state: 'succeeded', attempt: 1 })
  })

  it('takes a run over once its owner stops sending heartbeats, long before the lease would lapse', async () => {
    const { gates, coordA, coordB } = await cluster(
      { leaseTtlMs: 60_000, leaseGraceMs: 300, leaseCheckMs: 100 },
      true,
    )
    const a = coordinatorOf(coordA)
    const b = coordinatorOf(coordB)
    const runId = await a.submit({
      workflow: { name: 'liveness', steps: [{ id: 'held', runner: 'gate', payload: 'liveness' }] },
    })
    await waitFor(async () => (await b.status(runId).catch(() => undefined))?.owner === coordA.peerId, {
      what: 'B to see the run under A',
    })
    // B must have heard A alive to notice that it went silent (else only the lease timer tells).
    await waitFor(() => coordB.node.liveness.get(coordA.peerId) !== undefined, { what: 'B to hear A' })
    const stoppedAt = Date.now()
    await mesh.stop(coordA)
    // Five missed 1 s heartbeats, then the grace: well inside the 60 s lease.
    await waitFor(async () => (await b.status(runId)).owner === coordB.peerId, {
      timeoutMs: 20_000,
      what: 'B to take the run over',
    })
    expect(Date.now() - stoppedAt).toBeLessThan(60_000)
    const state = b.runState(runId)?.state as RunState
    expect(state.log().some((e) => e.type === 'node_status' && e.message.includes('(owner lost)'))).toBe(true)
    gates.open('liveness')
    expect((await waitForStatus(b, runId, ['completed', 'failed'], 20_000)).status).toBe('completed')
  })

  it('partitioned, each side changes the run (cancel / a result); healed, both hold the same state', async () => {
    const { gates, partition, work, coordA, coordB } = await cluster({ syncIntervalMs: 500 }, false)
    const a = coordinatorOf(coordA)
    const b = coordinatorOf(coordB)
    const runId = await a.submit({
      workflow: {
        name: 'split',
        steps: [
          { id: 'left', runner: 'gate', payload: 'split-left' },
          { id: 'right', runner: 'gate', payload: 'split-right' },
          { id: 'join', runner: 'echo', depends_on: ['left', 'right'] },
        ],
      },
    })
    await waitFor(
      async () => {
        const view = await b.status(runId).catch(() => undefined)
        return (
          view !== undefined &&
          step(view, 'left').state === 'running' &&
          step(view, 'right').state === 'running'
        )
      },
      { what: 'B to see both branches running' },
    )

    // Partition: B is cut off from A and the work node (every dial refused, connections closed).
    await partition.split([coordB], [coordA, work])
    // B side: cancel. A side: a step result.
    expect((await b.cancel(runId)).status).toBe('cancelled')
    gates.open('split-left')
    await waitFor(async () => step(await a.status(runId), 'left').state === 'succeeded', {
      what: 'left to succeed on A',
    })
    expect((await a.status(runId)).status).toBe('running')
    // B never heard of the result: it shows the step as its cancel decides it.
    expect(step(await b.status(runId), 'left')).toMatchObject({ state: 'cancelled' })
    expect(step(await b.status(runId), 'left').output).toBeUndefined()

    // Heal: the cut is lifted and B connects to A again.
    partition.heal()
    await coordB.node.libp2p.dial(multiaddr(coordA.node.multiaddrs()[0] as string))
    await waitFor(
      () => {
        const sa = a.runState(runId)?.state
        const sb = b.runState(runId)?.state
        return (
          sa !== undefined &&
          sb !== undefined &&
          sa.digest().hash === sb.digest().hash &&
          a.runState(runId)?.terminal
        )
      },
      { timeoutMs: 20_000, what: 'the replicas to converge' },
    )
    const [viewA, viewB] = [await a.status(runId), await b.status(runId)]
    expect(viewA).toEqual(viewB)
    // Semantics: cancel absorbs the run; the result recorded before the merge is kept; the rest is cancelled.
    expect(viewA.status).toBe('cancelled')
    expect(step(viewA, 'left')).toMatchObject({ state: 'succeeded', output: { gate: 'split-left' } })
    expect(step(viewA, 'right')).toMatchObject({ state: 'cancelled', reason: 'run_cancelled' })
    expect(step(viewA, 'join')).toMatchObject({ state: 'cancelled' })
    expect(a.runState(runId)?.state.equals(b.runState(runId)?.state as RunState)).toBe(true)
    // The job still in flight on A's side was cancelled through the supervisor.
    await waitFor(() => work.roles.supervisor?.status(`${runId}/right/1`).status === 'cancelled', {
      what: 'right cancelled on the supervisor',
    })
  })
})
