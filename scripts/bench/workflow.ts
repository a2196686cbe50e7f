/**
 * The coordinator service end to end (real nodes in this process, loopback TCP, noise, yamux): a
 * coordinator+supervisor node and a runner node serving a no-op kind.
 * - per-step overhead: a 1,000-step chain and a 1,000-wide fan-out of no-op steps, against the
 *   no-op job path measured in the same run (one job at a time, and 1,000 at once, through the
 *   same supervisor without a coordinator);
 * - for_each (`npm run bench -- workflow-map-mesh`; the pure-core figures are workflow-map.ts):
 *   a 10,000-element map of no-op children, against a 10,000-wide fan-out of static
 *   no-op steps in the same run (the per-child overhead of a map over its static equivalent), with
 *   `max_parallel` 100 too;
 * - convergence: a coordinator cut off while another runs a 500-step workflow; time from the
 *   heal (the dial) until both hold the same state (anti-entropy + gossip).
 * Validation and CRDT merge of large runs are in workflow-core.ts.
 */
import '../../src/node/polyfills.js'
import { multiaddr } from '@multiformats/multiaddr'
import { createLogger } from '../../src/core/logger.js'
import { resolveConfig } from '../../src/node/config/load.js'
import type { Role } from '../../src/node/config/types.js'
import { generateIdentity } from '../../src/node/identity.js'
import { createNode, type HorusNode } from '../../src/node/node.js'
import { type AttachRolesOptions, attachRoles, type NodeRoles } from '../../src/node/roles.js'
import { createJob } from '../../src/protocols/jobs/index.js'
import type { CoordinatorService } from '../../src/roles/coordinator/index.js'
import type { JobEvent, SupervisorService } from '../../src/roles/supervisor/index.js'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import { type BenchTable, elapsedMs, percentile } from './table.js'

const STEPS = 1_000
const SEQUENTIAL_JOBS = 200
const CONVERGE_STEPS = 500
/** 10,000 by default; HORUS_BENCH_MAP_ITEMS=n for a shorter run on a busy machine. */
const MAP_ITEMS = Number(process.env.HORUS_BENCH_MAP_ITEMS ?? 10_000)

interface Member {
  node: HorusNode
  roles: NodeRoles
}

async function members(mesh: TestMesh, count: number, started: Member[]) {
  const dirs = await Promise.all(Array.from({ length: count }, () => mesh.tempDir('horus-bench-wf-')))
  const ids = await Promise.all(
    dirs.map(async (dir) => (await generateIdentity(dir)).identity.peerId.toString()),
  )
  const trust = {
    keys: ids.map((key) => ({
      key,
      roles: ['client', 'coordinator', 'supervisor', 'runner'],
      capabilities: ['*'],
    })),
  }
  const start = async (i: number, roles: Role[], bootstrap: string[], options?: AttachRolesOptions) => {
    const config = resolveConfig({
      dataDir: dirs[i],
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      roles,
      trust,
    })
    const node = await createNode(config, { logger: createLogger(`bench-wf-${i}`) })
    const attached = attachRoles(node, options)
    await attached.start()
    const member = { node, roles: attached }
    started.push(member)
    return member
  }
  return { start }
}

const RUNNER = {
  runner: {
    builtins: false,
    concurrency: 64,
    kinds: {
      noop: async () => null,
      range: async (job: { payload?: unknown }) => Array.from({ length: Number(job.payload) }, (_, i) => i),
    },
  },
}

/** Waits for a job's terminal event from the supervisor in the same node. */
function completion(supervisor: SupervisorService, jobId: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (evt: CustomEvent<JobEvent>): void => {
      if (evt.detail.jobId !== jobId || evt.detail.status !== 'succeeded') return
      supervisor.removeEventListener('job:status', listener)
      resolve()
    }
    supervisor.addEventListener('job:status', listener)
  })
}

async function jobPath(hub: Member): Promise<{ sequentialMs: number; parallelMs: number }> {
  const supervisor = hub.roles.supervisor as SupervisorService
  const signer = hub.node.trust.signer
  const samples: number[] = []
  for (let i = 0; i < SEQUENTIAL_JOBS; i++) {
    const job = createJob({ runner: 'noop' }, signer)
    const start = process.hrtime.bigint()
    const done = completion(supervisor, job.id)
    await supervisor.submit(job)
    await done
    samples.push(elapsedMs(start))
  }
  return { sequentialMs: percentile(samples, 50), parallelMs: await jobsAtOnce(hub, STEPS) }
}

/** `count` no-op jobs submitted at once through the supervisor, without a coordinator: total ms. */
async function jobsAtOnce(hub: Member, count: number): Promise<number> {
  const supervisor = hub.roles.supervisor as SupervisorService
  const jobs = Array.from({ length: count }, () => createJob({ runner: 'noop' }, hub.node.trust.signer))
  const start = process.hrtime.bigint()
  await Promise.all(
    jobs.map(async (job) => {
      const done = completion(supervisor, job.id)
      await supervisor.submit(job)
      await done
    }),
  )
  return elapsedMs(start)
}

export function chainWorkflow(n: number) {
  return {
    workflow: {
      name: 'chain',
      steps: Array.from({ length: n }, (_, i) => ({
        id: `s${i}`,
        runner: 'noop',
        ...(i === 0 ? {} : { depends_on: [`s${i - 1}`] }),
      })),
    },
  }
}

function fanWorkflow(n: number) {
  return {
    workflow: { name: 'fan', steps: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, runner: 'noop' })) },
  }
}

async function timeRun(coordinator: CoordinatorService, workflow: unknown): Promise<number> {
  const start = process.hrtime.bigint()
  const runId = await coordinator.submit(workflow)
  const view = await coordinator.waitForCompletion(runId, 600_000)
  if (view.status !== 'completed') throw new Error(`bench run ${runId} ended ${view.status}`)
  return elapsedMs(start)
}

async function overheadTable(mesh: TestMesh, started: Member[]): Promise<BenchTable> {
  const { start } = await members(mesh, 2, started)
  const hub = await start(0, ['coordinator', 'supervisor'], [], {
    coordinator: { runnerKinds: ['noop'], runConcurrency: 1_000 },
  })
  await start(1, ['runner'], [hub.node.multiaddrs()[0] as string], RUNNER)
  await waitFor(() => hub.roles.supervisor?.runners().some((r) => r.capabilities.includes('noop')), {
    timeoutMs: 30_000,
  })
  const coordinator = hub.roles.coordinator as CoordinatorService
  await timeRun(coordinator, chainWorkflow(50)) // warm-up
  const jobs = await jobPath(hub)
  const chainMs = await timeRun(coordinator, chainWorkflow(STEPS))
  const fanMs = await timeRun(coordinator, fanWorkflow(STEPS))
  const perChain = chainMs / STEPS
  const perFan = fanMs / STEPS
  return {
    title: 'Coordinator per-step overhead (no-op steps, coordinator+supervisor node → runner node)',
    columns: ['workload', 'total ms', 'ms per step', 'job path ms per job', 'overhead ms per step'],
    rows: [
      [`chain of ${STEPS}`, chainMs, perChain, jobs.sequentialMs, perChain - jobs.sequentialMs],
      [`fan-out of ${STEPS}`, fanMs, perFan, jobs.parallelMs / STEPS, perFan - jobs.parallelMs / STEPS],
    ],
    note: `Job path: the same no-op job through the same supervisor without a coordinator — one at a time (p50 of ${SEQUENTIAL_JOBS}) for the chain, ${STEPS} at once (total / ${STEPS}) for the fan-out. Overhead = planning, CRDT commits, signing, events and persistence per step. Target ≤ 2 ms.`,
  }
}

function mapWorkflow(n: number, maxParallel?: number) {
  return {
    workflow: {
      name: 'map',
      steps: [
        { id: 'split', runner: 'range', payload: String(n) },
        {
          id: 'each',
          runner: 'noop',
          depends_on: ['split'],
          for_each: 'steps.split.output',
          ...(maxParallel === undefined ? {} : { max_parallel: maxParallel }),
        },
      ],
    },
  }
}

function wideWorkflow(n: number, maxParallel?: number) {
  const workers = Array.from({ length: n }, (_, i) => ({
    id: `w${i}`,
    runner: 'noop',
    depends_on: maxParallel === undefined || i < maxParallel ? ['split'] : [`w${i - maxParallel}`],
  }))
  return { workflow: { name: 'wide', steps: [{ id: 'split', runner: 'range', payload: '1' }, ...workers] } }
}

async function mapTable(mesh: TestMesh, started: Member[]): Promise<BenchTable> {
  const { start } = await members(mesh, 2, started)
  const hub = await start(0, ['coordinator', 'supervisor'], [], {
    coordinator: { runnerKinds: ['noop', 'range'], runConcurrency: 1_000 },
  })
  await start(1, ['runner'], [hub.node.multiaddrs()[0] as string], RUNNER)
  await waitFor(() => hub.roles.supervisor?.runners().some((r) => r.capabilities.includes('range')), {
    timeoutMs: 30_000,
  })
  const coordinator = hub.roles.coordinator as CoordinatorService
  await timeRun(coordinator, mapWorkflow(50)) // warm-up
  const jobsMs = (await jobsAtOnce(hub, MAP_ITEMS)) / MAP_ITEMS
  const rows: (string | number)[][] = []
  for (const maxParallel of [undefined, 100]) {
    const wideMs = await timeRun(coordinator, wideWorkflow(MAP_ITEMS, maxParallel))
    const heapBefore = process.memoryUsage().heapUsed
    const mapMs = await timeRun(coordinator, mapWorkflow(MAP_ITEMS, maxParallel))
    const heapDelta = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20
    rows.push([
      maxParallel === undefined ? 'all at once' : `max_parallel ${maxParallel}`,
      wideMs,
      mapMs,
      mapMs / MAP_ITEMS,
      (mapMs - wideMs) / MAP_ITEMS,
      mapMs / MAP_ITEMS - jobsMs,
      heapDelta,
    ])
  }
  return {
    title: `for_each of ${MAP_ITEMS.toLocaleString('en')} no-op children (coordinator+supervisor node → runner node)`,
    columns: [
      'shape',
      'static steps ms',
      'for_each ms',
      'ms per child',
      'child − static step ms',
      'child − job path ms',
      'heap Δ MiB (whole process)',
    ],
    rows,
    note: `Baseline: the same number of static no-op steps in the same run (a ${MAP_ITEMS.toLocaleString('en')}-wide fan-out; for max_parallel, ${MAP_ITEMS.toLocaleString('en')} steps in 100 chains). Job path: ${MAP_ITEMS.toLocaleString('en')} no-op jobs submitted at once to the same supervisor without a coordinator, ${jobsMs.toFixed(2)} ms per job in this run. A negative difference means a child costs less than a static step (no per-step validation, compact state). Heap Δ is noisy (GC), for the order of magnitude only.`,
  }
}

async function convergenceTable(mesh: TestMesh, started: Member[]): Promise<BenchTable> {
  const { start } = await members(mesh, 3, started)
  const work = await start(0, ['supervisor', 'runner'], [], RUNNER)
  const options = {
    coordinator: {
      runnerKinds: ['noop'],
      supervisors: [work.node.multiaddrs()[0] as string],
      syncIntervalMs: 1_000,
    },
  }
  const a = await start(1, ['coordinator'], [work.node.multiaddrs()[0] as string], options)
  const ca = a.roles.coordinator as CoordinatorService
  const rows: (string | number)[][] = []
  const converge = async (b: Member, runId: string): Promise<number> => {
    const cb = b.roles.coordinator as CoordinatorService
    const begin = process.hrtime.bigint()
    await b.node.libp2p.dial(multiaddr(a.node.multiaddrs()[0] as string))
    await waitFor(() => cb.runState(runId)?.state.digest().hash === ca.runState(runId)?.state.digest().hash, {
      timeoutMs: 60_000,
      intervalMs: 5,
    })
    return elapsedMs(begin)
  }
  // A coordinator cut off from the start: the run happens entirely on the other side.
  const first = await ca.submit(fanWorkflow(CONVERGE_STEPS))
  await ca.waitForCompletion(first, 600_000)
  let b = await start(2, ['coordinator'], [], options)
  rows.push(['whole run created and finished on the other side', CONVERGE_STEPS, await converge(b, first)])
  // The same coordinator goes away (stopped), a second run happens, it comes back from its datastore.
  await b.roles.stop()
  await b.node.stop()
  const second = await ca.submit(fanWorkflow(CONVERGE_STEPS))
  await ca.waitForCompletion(second, 600_000)
  b = await start(2, ['coordinator'], [], options)
  rows.push([
    'rejoins after a run it missed (1 run known, 1 missing)',
    CONVERGE_STEPS,
    await converge(b, second),
  ])
  return {
    title: 'Convergence after a partition heals (two coordinators)',
    columns: ['case', 'steps in the run', 'connect → equal digests ms'],
    rows,
    note: 'The cut-off coordinator lacks the whole run (creation, every step, ~5 log entries per step). Healing is a dial; the connection (or the first heartbeat) starts an anti-entropy round over `coordinator.sync`.',
  }
}

export function runWorkflowBench(): Promise<BenchTable[]> {
  return runTables([overheadTable, convergenceTable])
}

/** `npm run bench -- workflow-map-mesh`: for_each through real nodes (the pure core: workflow-map.ts). */
export function runWorkflowMapMeshBench(): Promise<BenchTable[]> {
  return runTables([mapTable])
}

async function runTables(
  builds: Array<(mesh: TestMesh, started: Member[]) => Promise<BenchTable>>,
): Promise<BenchTable[]> {
  const tables: BenchTable[] = []
  for (const build of builds) {
    const mesh = new TestMesh()
    const started: Member[] = []
    try {
      tables.push(await build(mesh, started))
    } finally {
      for (const member of started.reverse()) {
        await member.roles.stop()
        await member.node.stop()
      }
      await mesh.cleanup()
    }
  }
  return tables
}
