/**
 * Run GC: a finished run is deleted after the retention period on every coordinator that holds it,
 * an index entry answers RunExpiredError (typed, over RPC and rebuilt by the SDK) instead of
 * RunNotFoundError, the index survives a restart, the id cannot be reused, and a peer that still
 * offers the run's state never brings it back.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RunExpiredError as ClientRunExpiredError, rebuildRemoteError } from '../src/client/errors.js'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import { StateStore } from '../src/protocols/state/state-store.js'
import { RunExpiredError, RunNotFoundError } from '../src/roles/coordinator/index.js'
import { RUNS_PREFIX } from '../src/roles/coordinator/service/constants.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  runnerVisible,
  submitParams,
  TEST_KINDS,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const RETENTION_MS = 1_500
const WORKFLOW = 'workflow:\n  name: "short"\n  steps:\n    - { id: "a", runner: "echo", payload: "x" }\n'

describe('run retention', () => {
  it('expires a finished run on every replica and answers "expired", for good', async () => {
    const [w, a, b, c] = [
      await mesh.member('work'),
      await mesh.member('coordA'),
      await mesh.member('coordB'),
      await mesh.member('cli'),
    ]
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), new Executions()) } },
    })
    const options = {
      coordinator: {
        supervisors: [work.node.multiaddrs()[0] as string],
        runnerKinds: TEST_KINDS,
        runRetentionMs: RETENTION_MS,
      },
    }
    const coordA = await mesh.start(a, { roles: ['coordinator'], bootstrap: work, options })
    // B keeps runs for a day: it holds the run long after A expired it, and keeps offering it.
    const coordB = await mesh.start(b, {
      roles: ['coordinator'],
      bootstrap: coordA,
      options: { coordinator: { ...options.coordinator, runRetentionMs: 86_400_000 } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: coordA })
    await runnerVisible(work, 'echo')
    const client = new Libp2pRpcClient({
      libp2p: cli.node.libp2p,
      target: coordA.node.multiaddrs()[0] as string,
    })

    const { runId } = await client.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(cli, WORKFLOW),
    )
    await client.call('coordinator.wait_for_completion', { runId, timeoutMs: 20_000 })
    const ca = coordinatorOf(coordA)
    const cb = coordinatorOf(coordB)
    await waitFor(() => cb.runState(runId)?.terminal === true, { what: 'the run finished on B too' })

    const err = await waitFor(
      async () => {
        try {
          await ca.status(runId)
          return false
        } catch (e) {
          return e instanceof RunExpiredError && e
        }
      },
      { what: 'A to expire the run', timeoutMs: 20_000 },
    )
    expect(err.message).toMatch(/older than the retention period/)
    expect(err.finishedAt).toBeLessThanOrEqual(err.expiredAt - RETENTION_MS)
    // Deleted from A's datastore; B, with its longer retention, still holds it.
    const storeA = new StateStore({ datastore: coordA.node.datastore, prefix: RUNS_PREFIX })
    await waitFor(async () => !(await storeA.runs()).includes(runId), {
      what: "the run gone from A's datastore",
    })
    expect(cb.runState(runId)).toBeDefined()

    // Over RPC the error keeps its name and data; the SDK rebuilds the typed class.
    const remote = await client.call('coordinator.get_workflow_status', { runId }).catch((e: unknown) => e)
    const rebuilt = rebuildRemoteError(remote)
    expect(rebuilt).toBeInstanceOf(ClientRunExpiredError)
    expect((rebuilt as ClientRunExpiredError).finishedAt).toBe(err.finishedAt)

    // B offers the run by anti-entropy and gossip: A drops it, the run does not come back.
    await coordA.node.libp2p.dial(coordB.node.libp2p.peerId)
    await ca.status('no-such-run').catch(() => undefined) // a lookup that pulls from every peer
    expect(ca.runState(runId)).toBeUndefined()
    await expect(ca.status(runId)).rejects.toBeInstanceOf(RunExpiredError)

    // The index survives a restart; the id is taken for good.
    await mesh.stop(coordA)
    const again = await mesh.start(a, { roles: ['coordinator'], bootstrap: coordB, options })
    await expect(coordinatorOf(again).status(runId)).rejects.toBeInstanceOf(RunExpiredError)
    await expect(coordinatorOf(again).status('never-existed')).rejects.toBeInstanceOf(RunNotFoundError)
    expect(coordinatorOf(again).runState(runId)).toBeUndefined()
  })
})
