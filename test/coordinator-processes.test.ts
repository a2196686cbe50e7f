/**
 * Acceptance 1: the seed's data-pipeline workflow (test/fixtures/data-pipeline.yaml),
 * verbatim except that the fetch URL points at a local HTTP fixture, runs to completion across
 * separate OS processes — a coordinator, a supervisor and a runner, each `horus node start` — and
 * the `store` step's record is then read back from the runner's osiris store.
 * (`npm test` builds dist/ first; for a local run: `npx tsc -p tsconfig.build.json`.)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { FixtureServer } from '../src/cli/demo/fixture-server.js'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import type { RunView } from '../src/roles/coordinator/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'
import { ProcessMesh } from '../src/testing/process-mesh.js'
import { submitParams } from './coordinator-fixtures.js'

const SEED_WORKFLOW = new URL('./fixtures/data-pipeline.yaml', import.meta.url)
/** Runner plugin exporting `functions = { process_data }` (built with the CLI). */
const PLUGIN = fileURLToPath(new URL('../dist/src/cli/demo/plugin.js', import.meta.url))
const BIN = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url))

let dir: string | undefined
let processes: ProcessMesh | undefined
const local = new TestMesh()
const fixture = new FixtureServer()

afterEach(async () => {
  await processes?.stop()
  await local.cleanup()
  await fixture.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('the seed data pipeline across separate processes', () => {
  it('fetch → process → store completes, and the stored record is readable from the osiris store', async () => {
    dir = await mkdtemp(join(tmpdir(), 'horus-coord-proc-'))
    const url = await fixture.start()
    const seed = await readFile(SEED_WORKFLOW, 'utf8')
    const workflow = seed.replace('https://api.example.com/data', url)
    expect(workflow).not.toBe(seed)

    processes = new ProcessMesh({ dir, bin: BIN })
    const [coord] = await processes.start([
      { name: 'coord', roles: ['coordinator'] },
      { name: 'sup', roles: ['supervisor'] },
      { name: 'run', roles: ['runner'], extra: { runner: { plugins: [PLUGIN] } } },
    ])
    const client = await local.node({
      dataDir: processes.clientDir,
      bootstrap: coord?.multiaddrs.slice(0, 1) ?? [],
    })
    const rpc = new Libp2pRpcClient({ libp2p: client.libp2p, target: coord?.multiaddrs[0] as string })
    // Runners announce their kinds in heartbeats; the coordinator validates runner kinds against them.
    await waitFor(
      async () => {
        const live = await rpc.call<Array<{ capabilities: string[] }>>('mesh.liveness', { role: 'runner' })
        const kinds = new Set(live.flatMap((p) => p.capabilities))
        return ['hero', 'sal', 'osiris'].every((k) => kinds.has(k))
      },
      { timeoutMs: 30_000, what: 'the runner to be seen by the coordinator' },
    )

    const { runId } = await rpc.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(client.trust.signer, workflow),
    )
    const run = await rpc.call<RunView>(
      'coordinator.wait_for_completion',
      { runId, timeoutMs: 60_000 },
      { timeoutMs: 65_000 },
    )
    expect(run.status, JSON.stringify(run.steps.map((s) => [s.id, s.state, s.error]))).toBe('completed')
    expect(run.workflow).toBe('data-pipeline')
    const stored = run.steps.find((s) => s.id === 'store')?.output as {
      id: string
      count: number
      sensors: string[]
    }
    expect(stored.count).toBe(5)
    expect(typeof stored.id).toBe('string')
    expect(run.steps.every((s) => s.runnerPeer === processes?.nodes[2]?.peerId)).toBe(true)

    // Read it back through the runner's osiris store, with a second workflow.
    const read = await rpc.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(client.trust.signer, {
        workflow: {
          name: 'read-back',
          steps: [
            {
              id: 'get',
              runner: 'osiris',
              payload: `osiris.model("results").get(${JSON.stringify(stored.id)})`,
            },
          ],
        },
      }),
    )
    const back = await rpc.call<RunView>(
      'coordinator.wait_for_completion',
      { runId: read.runId, timeoutMs: 30_000 },
      { timeoutMs: 35_000 },
    )
    expect(back.status).toBe('completed')
    expect(back.steps[0]?.output).toEqual(stored)
    await rpc.close()
  })
})
