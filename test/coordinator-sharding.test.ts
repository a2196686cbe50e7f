/**
 * Run state sharded across coordinators (src/protocols/state/README.md, "Where runs live"): five
 * trusted coordinators with 3 replicas per run, a stranger that announces itself as a coordinator
 * (and wins the rendezvous hash of the run it wants), two clients. A run lives on exactly its 3
 * rendezvous members; reads, controls, events and lists work through any coordinator with the
 * caller's own rights; a lost member's runs are repaired onto another coordinator and finish.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MonitorEvent } from '../src/protocols/events/index.js'
import type { TrustConfig } from '../src/protocols/jobs/index.js'
import type { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { RunSummary, RunView } from '../src/roles/coordinator/index.js'
import { rendezvousOrder } from '../src/roles/coordinator/service/replica-set.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  type RunningMember,
  runnerVisible,
  step,
  submitParams,
  TEST_KINDS,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
const gates = new Gates()
const executions = new Executions()
let work: RunningMember
let coords: RunningMember[] = []
let stranger: RunningMember
let alice: RunningMember
let mallory: RunningMember
/** Every run alice submitted, for the list test. */
const aliceRuns: string[] = []

/** A run whose middle step waits for the gate named `gate`. */
const gated = (gate: string): unknown => ({
  workflow: {
    name: 'sharded',
    steps: [
      { id: 'first', runner: 'echo', payload: '1' },
      { id: 'held', runner: 'gate', payload: gate, depends_on: ['first'] },
      { id: 'last', runner: 'echo', payload: 'z', depends_on: ['held'] },
    ],
  },
})

const ids = (members: RunningMember[]): string[] => members.map((m) => m.peerId)
const byId = (peer: string): RunningMember => coords.find((c) => c.peerId === peer) as RunningMember
const holders = (runId: string, among = coords): string[] =>
  among.filter((c) => coordinatorOf(c).runState(runId) !== undefined).map((c) => c.peerId)
const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && a.every((p) => b.includes(p))

function remoteName(err: unknown): unknown {
  return (err as { data?: { name?: unknown } }).data?.name
}

async function submitAs(
  client: RunningMember,
  via: RunningMember,
  runId: string,
  workflow = gated('sharded'),
) {
  const answer = await mesh
    .client(client, via)
    .call<{ runId: string }>('coordinator.submit_workflow', submitParams(client, workflow, {}, runId))
  if (client === alice) aliceRuns.push(answer.runId)
  return answer.runId
}

/** A run id whose rendezvous order over `peers` starts with `first` (what a grinder looks for). */
function runIdWon(first: string, peers: string[], prefix: string): string {
  for (let i = 0; i < 10_000; i++) {
    const id = `${prefix}-${i}`
    if (rendezvousOrder(id, peers)[0] === first) return id
  }
  throw new Error('no run id found')
}

beforeAll(async () => {
  const names = ['work', 'c1', 'c2', 'c3', 'c4', 'c5', 'alice', 'mallory']
  const members = []
  for (const name of names) members.push(await mesh.member(name))
  const strangerMember = await mesh.member('stranger')
  // The trusted nodes hold the clients and the stranger as clients only; the stranger trusts
  // everyone in every role (itself as a coordinator), so it runs the role and announces it.
  const strangerKey = { key: strangerMember.peerId, name: 'stranger', roles: ['client'], capabilities: ['*'] }
  const keys = [
    ...mesh
      .trust()
      .keys.filter((entry) => entry.key !== strangerMember.peerId)
      .map((entry) =>
        entry.name === 'alice' || entry.name === 'mallory' ? { ...entry, roles: ['client'] } : entry,
      ),
    strangerKey,
  ]
  const extra = { trust: { keys } as TrustConfig }
  const [w, ...rest] = members
  work = await mesh.start(w as (typeof members)[number], {
    roles: ['supervisor', 'runner'],
    extra,
    options: { runner: { builtins: false, concurrency: 16, kinds: testKinds(gates, executions) } },
  })
  const coordinator = {
    supervisors: [work.node.multiaddrs()[0] as string],
    runnerKinds: TEST_KINDS,
    replicas: 3,
    syncIntervalMs: 500,
    leaseTtlMs: 3_000,
    leaseGraceMs: 300,
    leaseCheckMs: 100,
  }
  coords = []
  for (const member of rest.slice(0, 5))
    coords.push(
      await mesh.start(member, { roles: ['coordinator'], bootstrap: work, extra, options: { coordinator } }),
    )
  alice = await mesh.start(rest[5] as (typeof members)[number], { roles: [], bootstrap: work, extra })
  mallory = await mesh.start(rest[6] as (typeof members)[number], { roles: [], bootstrap: work, extra })
  stranger = await mesh.start(strangerMember, {
    roles: ['coordinator'],
    bootstrap: work,
    options: { coordinator },
  })
  await runnerVisible(work, 'gate')
  // Every coordinator hears the four others as coordinators, and the stranger's heartbeats, whose
  // claim of the coordinator role its policy does not believe.
  await waitFor(
    () =>
      coords.every(
        (c) =>
          coords.every(
            (o) => o === c || c.node.liveness.get(o.peerId)?.roles.includes('coordinator') === true,
          ) && c.node.liveness.get(stranger.peerId) !== undefined,
      ),
    { what: 'the coordinators to hear each other and the stranger', timeoutMs: 20_000 },
  )
  expect(stranger.node.liveness.get(stranger.peerId)).toBeUndefined()
  expect(coords.some((c) => c.node.liveness.get(stranger.peerId)?.roles.includes('coordinator'))).toBe(false)
}, 60_000)

afterAll(() => mesh.cleanup())

describe('run state sharded across 5 coordinators, 3 replicas per run', () => {
  it('a run lives on exactly its 3 rendezvous members, never on a stranger that claims the role and wins the hash', async () => {
    // The stranger's id would come first for this run if it were believed.
    const runId = runIdWon(stranger.peerId, [...ids(coords), stranger.peerId], 'won-by-stranger')
    const members = rendezvousOrder(runId, ids(coords)).slice(0, 3)
    for (const c of coords) expect(coordinatorOf(c).sets.members(runId)).toEqual(members)
    // Submitted at a coordinator outside the set: it hands the run to the set and drops it.
    const entry = coords.find((c) => !members.includes(c.peerId)) as RunningMember
    await submitAs(alice, entry, runId)
    await waitFor(() => sameSet(holders(runId), members), {
      what: `run ${runId} to be held by exactly ${members.join(', ')}`,
    })
    const view = await coordinatorOf(byId(members[0] as string)).status(runId)
    expect(view.owner).toBe(members[0])
    expect(coordinatorOf(stranger).runState(runId)).toBeUndefined()
    expect(coordinatorOf(entry).stats().replication.handedOff).toBeGreaterThanOrEqual(1)

    // The stranger may neither write run state nor have calls forwarded to it on anyone's behalf.
    const asStranger = mesh.client(stranger, byId(members[0] as string))
    await expect(asStranger.call('coordinator.sync', { digests: [] })).rejects.toMatchObject({
      name: 'UnauthorizedError',
    })
    await expect(
      asStranger.call('coordinator.forward', {
        method: 'coordinator.cancel_workflow',
        params: { runId },
        caller: { via: 'node' },
      }),
    ).rejects.toMatchObject({ name: 'UnauthorizedError' })
    gates.open('sharded')
    const done = await waitFor(
      async () => {
        const v = await coordinatorOf(byId(members[1] as string)).status(runId)
        return v.status === 'completed' ? v : undefined
      },
      { what: 'the run to complete' },
    )
    expect(step(done, 'last').state).toBe('succeeded')
    expect(holders(runId, [stranger])).toEqual([])
  })

  it('a run a coordinator names itself (no run id given) lands in its own set: held there from the start, never handed off', async () => {
    const echo = { workflow: { name: 'named-here', steps: [{ id: 'only', runner: 'echo', payload: 'x' }] } }
    for (const c of coords) {
      const coordinator = coordinatorOf(c)
      const handedOff = coordinator.stats().replication.handedOff
      // 5 coordinators, 3 replicas: a random id misses a given coordinator's set 2 times in 5.
      const runIds = await Promise.all(Array.from({ length: 4 }, () => coordinator.submit(echo)))
      for (const runId of runIds) {
        expect(rendezvousOrder(runId, ids(coords)).slice(0, 3)).toContain(c.peerId)
        expect(coordinator.forwardsRun(runId)).toBe(false)
        const done = await waitFor(
          async () => {
            const v = await coordinator.status(runId)
            return v.status === 'completed' ? v : undefined
          },
          { what: `run ${runId} to complete` },
        )
        expect(done.owner).toBe(c.peerId)
      }
      expect(coordinator.stats().replication.handedOff).toBe(handedOff)
    }
  })

  it('reads, controls and events through a coordinator outside the set act with the caller’s own rights', async () => {
    const runId = `through-${Date.now()}`
    const members = rendezvousOrder(runId, ids(coords)).slice(0, 3)
    const outside = coords.filter((c) => !members.includes(c.peerId))
    const [first, second] = outside as [RunningMember, RunningMember]
    await submitAs(alice, first, runId, {
      workflow: {
        name: 'signalled',
        steps: [
          { id: 'wait', wait_for_signal: 'go' },
          { id: 'after', runner: 'echo', payload: 'x', depends_on: ['wait'] },
        ],
      },
    })
    await waitFor(() => holders(runId, [second]).length === 0 && sameSet(holders(runId), members), {
      what: 'the run to be held by its set only',
    })
    const viaSecond = mesh.client(alice, second)
    const status = await viaSecond.call<RunView>('coordinator.get_workflow_status', { runId })
    expect(status.runId).toBe(runId)
    // Mallory asking the same coordinator gets what she would get from a member: nothing.
    const asMallory = mesh.client(mallory, second)
    const denied = await asMallory.call('coordinator.get_workflow_status', { runId }).catch((e: unknown) => e)
    expect(remoteName(denied)).toBe('RunAccessDeniedError')
    // Nor can she take the run's id at a coordinator that does not hold it: it is taken mesh-wide.
    const taken = await asMallory
      .call('coordinator.submit_workflow', submitParams(mallory, gated('x'), {}, runId))
      .catch((e: unknown) => e)
    expect(remoteName(taken)).toBe('RunExistsError')
    // Finding the id taken brought the run's state to the coordinator asked; it gives that copy
    // (nothing of its own) back at its first round with a member.
    await waitFor(() => holders(runId, outside).length === 0, {
      what: 'the copy fetched for the submission to be handed back',
    })
    const notHers = await asMallory.call('coordinator.cancel_workflow', { runId }).catch((e: unknown) => e)
    expect(remoteName(notHers)).toBe('RunAccessDeniedError')
    // Controls through the non-member: pause, resume, then the signal that lets the run finish.
    expect((await viaSecond.call<RunView>('coordinator.pause_workflow', { runId })).status).toBe('paused')
    expect((await viaSecond.call<RunView>('coordinator.resume_workflow', { runId })).status).not.toBe(
      'paused',
    )
    // Events through the non-member: the history a member holds, then live ones from the topic.
    const subscription = (mesh.client(alice, second) as Libp2pRpcClient).subscribe<MonitorEvent>(
      'coordinator.events',
      { runId, after: '' },
      { signal: AbortSignal.timeout(20_000) },
    )
    await viaSecond.call('coordinator.signal_workflow', { runId, name: 'go', data: { ok: true } })
    const finished = await viaSecond.call<RunView>('coordinator.wait_for_completion', {
      runId,
      timeoutMs: 15_000,
    })
    expect(finished.status).toBe('completed')
    const seen: MonitorEvent[] = []
    for await (const event of subscription) {
      seen.push(event)
      if (event.type === 'workflow_completed') break
    }
    await subscription.unsubscribe()
    expect(seen.some((e) => e.type === 'workflow_started' || e.type === 'step_started')).toBe(true)
    const logs = await viaSecond.call<Array<{ message: string }>>('coordinator.get_workflow_logs', { runId })
    // The audit trail names the client and the coordinator that forwarded its call.
    const messages = logs.map((l) => l.message)
    expect(messages).toContain(`pause by ${alice.peerId}, forwarded by coordinator ${second.peerId}`)
    expect(messages).toContain(
      `cancel refused to ${mallory.peerId}, forwarded by coordinator ${second.peerId}`,
    )
    const bundle = await viaSecond.call<{ runId?: string }>('coordinator.export_run', { runId })
    expect(JSON.stringify(bundle)).toContain(runId)
    // Reads and controls forwarded to the members never brought it back outside its set.
    expect(holders(runId, outside)).toEqual([])
  })

  it('list_workflows pages through the runs of every coordinator, each exactly once', async () => {
    const stamp = Date.now()
    for (let i = 0; i < 5; i++)
      await submitAs(alice, coords[i % coords.length] as RunningMember, `listed-${stamp}-${i}`)
    const hers = await submitAs(mallory, coords[0] as RunningMember, `mallory-${stamp}`)
    const membersOf = (runId: string) => rendezvousOrder(runId, ids(coords)).slice(0, 3)
    await waitFor(() => aliceRuns.every((runId) => sameSet(holders(runId), membersOf(runId))), {
      what: "alice's runs each on its 3 members only",
    })
    const client = mesh.client(alice, coords[2] as RunningMember)
    const listed: string[] = []
    let after: string | undefined
    for (let page = 0; page < 20; page++) {
      const runs = await client.call<RunSummary[]>('coordinator.list_workflows', {
        limit: 3,
        ...(after === undefined ? {} : { after }),
      })
      if (runs.length === 0) break
      listed.push(...runs.map((r) => r.runId))
      after = runs.at(-1)?.runId
    }
    expect(listed.length).toBe(new Set(listed).size)
    expect([...listed].sort()).toEqual([...aliceRuns].sort())
    expect(listed).not.toContain(hers)
    // The local scope lists only the runs this coordinator replicates.
    const local = await client.call<RunSummary[]>('coordinator.list_workflows', {
      scope: 'local',
      limit: 100,
    })
    const self = (coords[2] as RunningMember).peerId
    expect(local.map((r) => r.runId).sort()).toEqual(
      aliceRuns.filter((runId) => membersOf(runId).includes(self)).sort(),
    )
  })

  it('a member is killed: its runs are repaired onto another coordinator and finish there', async () => {
    const runId = `repaired-${Date.now()}`
    const members = rendezvousOrder(runId, ids(coords)).slice(0, 3)
    await submitAs(alice, byId(members[0] as string), runId, gated('repair'))
    await waitFor(
      async () => {
        const v = await coordinatorOf(byId(members[1] as string))
          .status(runId)
          .catch(() => undefined)
        return v !== undefined && step(v, 'held').state === 'running'
      },
      { what: 'the gated step to run' },
    )
    // The owner (first member) dies: the set becomes the top 3 of the 4 left.
    const dead = byId(members[0] as string)
    await mesh.stop(dead)
    const left = coords.filter((c) => c !== dead)
    const repaired = rendezvousOrder(runId, ids(left)).slice(0, 3)
    const joiner = repaired.find((p) => !members.includes(p)) as string
    expect(joiner).toBeDefined()
    await waitFor(() => sameSet(holders(runId, left), repaired), {
      what: `the run to be repaired onto ${joiner}`,
      timeoutMs: 20_000,
    })
    gates.open('repair')
    const done = await waitFor(
      async () => {
        const v = await coordinatorOf(byId(joiner))
          .status(runId)
          .catch(() => undefined)
        return v?.status === 'completed' ? v : undefined
      },
      { what: 'the run to complete after the repair', timeoutMs: 20_000 },
    )
    expect(repaired).toContain(done.owner)
    expect(executions.ofStep(runId, 'last')).toBe(1)
    coords = left
  })
})
