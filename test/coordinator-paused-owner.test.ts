/**
 * Defect: a run stuck forever after its owner was paused (SIGSTOP) past its lease. The other
 * coordinator took over and dispatched steps the paused owner never heard of; on SIGCONT the old
 * owner renewed its lapsed lease from its stale view, won the register, and followed only the jobs
 * it had itself sent — the new jobs were forgotten by both. Separate OS processes on loopback, so
 * the pause is a real one. (`npm test` builds dist/ first.)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { RunView } from '../src/roles/coordinator/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'
import { ProcessMesh } from '../src/testing/process-mesh.js'
import { submitParams } from './coordinator-fixtures.js'

const PLUGIN = fileURLToPath(new URL('../dist/src/testing/nemesis/effect-plugin.js', import.meta.url))
const BIN = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url))
const LEASE = { leaseTtlMs: 3_000, leaseGraceMs: 500 }

let dir: string | undefined
let processes: ProcessMesh | undefined
const local = new TestMesh()

afterEach(async (ctx) => {
  if (process.env.HF_DEBUG && ctx.task.result?.state === 'fail')
    for (const n of processes?.nodes ?? []) console.log(n.name, n.stderr().slice(-20_000))
  for (const node of processes?.nodes ?? []) node.child.kill('SIGCONT')
  await processes?.stop()
  await local.cleanup()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** `s(i)` depends on `s(i-4)`: four chains side by side, each step `sleepMs` long. */
function chains(steps: number, sleepMs: number) {
  return {
    workflow: {
      name: 'four-chains',
      steps: Array.from({ length: steps }, (_, i) => ({
        id: `s${i}`,
        runner: 'effect',
        payload: JSON.stringify({ value: 1, sleepMs }),
        ...(i >= 4 ? { depends_on: [`s${i - 4}`] } : {}),
      })),
    },
  }
}

describe('an owner paused past its lease', () => {
  it('SIGSTOP the owning coordinator, SIGCONT later: the run completes and both replicas agree', async () => {
    dir = await mkdtemp(join(tmpdir(), 'horus-paused-owner-'))
    processes = new ProcessMesh({ dir, bin: BIN, env: { DEBUG: process.env.HF_DEBUG ?? '' } })
    const extra = { coordinator: { ...LEASE, runners: ['effect'] } }
    const [, coordA, coordB] = await processes.start([
      {
        name: 'work',
        roles: ['supervisor', 'runner'],
        extra: { runner: { plugins: [PLUGIN], concurrency: 8 } },
      },
      { name: 'coordA', roles: ['coordinator'], extra },
      { name: 'coordB', roles: ['coordinator'], extra },
    ])
    if (coordA === undefined || coordB === undefined) throw new Error('mesh did not start')
    const client = await local.node({
      dataDir: processes.clientDir,
      bootstrap: coordA.multiaddrs.slice(0, 1),
    })
    const rpcA = new Libp2pRpcClient({ libp2p: client.libp2p, target: coordA.multiaddrs[0] as string })
    const rpcB = new Libp2pRpcClient({ libp2p: client.libp2p, target: coordB.multiaddrs[0] as string })
    const statusOn = (rpc: Libp2pRpcClient, runId: string) =>
      rpc.call<RunView>('coordinator.get_workflow_status', { runId }, { timeoutMs: 5_000 })

    const { runId } = await rpcA.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(client.trust.signer, chains(24, 400)),
    )
    // B holds the run under A, with work done and work in flight.
    await waitFor(
      async () => {
        const view = await statusOn(rpcB, runId).catch(() => undefined)
        return (
          view?.owner === coordA.peerId &&
          view.steps.some((s) => s.state === 'succeeded') &&
          view.steps.some((s) => s.state === 'running')
        )
      },
      { timeoutMs: 30_000, what: 'B to see the run under way under A' },
    )
    coordA.child.kill('SIGSTOP')
    // B takes the run over while A sleeps, and sends jobs A never heard of.
    await waitFor(
      async () => {
        const view = await statusOn(rpcB, runId).catch(() => undefined)
        return view?.owner === coordB.peerId
      },
      { timeoutMs: 20_000, what: 'B to take the run over' },
    )
    const taken = await statusOn(rpcB, runId)
    const doneAtTakeover = taken.steps.filter((s) => s.state === 'succeeded').length
    await waitFor(
      async () =>
        (await statusOn(rpcB, runId)).steps.filter((s) => s.state === 'succeeded').length >=
        doneAtTakeover + 4,
      { timeoutMs: 20_000, what: 'B to drive the run on while A is paused' },
    )
    coordA.child.kill('SIGCONT')

    const final = await waitFor(
      async () => {
        const [a, b] = await Promise.all([statusOn(rpcA, runId), statusOn(rpcB, runId)])
        return a.status === 'completed' && b.status === 'completed' ? { a, b } : undefined
      },
      { timeoutMs: 45_000, intervalMs: 250, what: 'the run to complete on both coordinators' },
    ).catch(async (err: Error) => {
      const views = await Promise.all([statusOn(rpcA, runId), statusOn(rpcB, runId)])
      const show = (v: RunView) =>
        `${v.owner} ${v.status} ${v.steps.map((s) => `${s.id}:${s.state}`).join(' ')}`
      throw new Error(`${err.message}\nA: ${show(views[0])}\nB: ${show(views[1])}`)
    })
    for (const view of [final.a, final.b]) {
      expect(view.steps.every((s) => s.state === 'succeeded')).toBe(true)
      // s(i) = 1 + s(i-4): the last step of each chain holds its chain's length.
      expect(view.steps.find((s) => s.id === 's23')?.output).toEqual({ value: 6 })
    }
    expect(final.a.owner).toBe(final.b.owner)
    await Promise.all([rpcA.close(), rpcB.close()])
  }, 120_000)
})
