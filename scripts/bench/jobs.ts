/**
 * Jobs end to end: 1 supervisor and 1, 2, 4 runners (real nodes in this process, loopback TCP,
 * noise, yamux), a client node signing jobs and calling `supervisor.create_job`.
 * - throughput: JOBS no-op jobs submitted pipelined, timed until the last `succeeded` event;
 * - latency: submit → `succeeded` event of one job at a time (p50/p99);
 * - floor: a trivial RPC round trip (`node.health`) on the same client → supervisor session;
 * - QuickJS: sandbox set-up per script run, and a `sal` job (`1 + 1`) end to end against no-op.
 * The same throughput and latency again with the supervisor and each runner in its own process
 * (`horus node start`, the deployment shape), the client staying in this one.
 */
import '../../src/node/polyfills.js'
import { fileURLToPath } from 'node:url'
import { createLogger } from '../../src/core/logger.js'
import { resolveConfig } from '../../src/node/config/load.js'
import type { Role } from '../../src/node/config/types.js'
import { generateIdentity } from '../../src/node/identity.js'
import { createNode, type HorusNode } from '../../src/node/node.js'
import { type AttachRolesOptions, attachRoles, type NodeRoles } from '../../src/node/roles.js'
import { createJob, type JobFields, type Signer as JobSigner } from '../../src/protocols/jobs/index.js'
import { Libp2pRpcClient } from '../../src/protocols/rpc/index.js'
import { createSandbox } from '../../src/roles/runner/sandbox/index.js'
import type { JobEvent, RunnerView } from '../../src/roles/supervisor/index.js'
import { ProcessMesh, TestMesh, waitFor } from '../../src/testing/index.js'
import { type BenchTable, elapsedMs, formatTable, percentile } from './table.js'

const JOBS = 2_000
const SEQUENTIAL = 300
const FLOOR_CALLS = 1_000
const SANDBOX_RUNS = 300
const RUNNER_CONCURRENCY = 4
/**
 * Runner slots in the multi-process variant: the bench's 4, and enough that no-op throughput is
 * bounded by CPU rather than by slots × dispatch round trip (which, across processes, is longer).
 */
const PROCESS_SLOTS = [RUNNER_CONCURRENCY, 32]
/** Built plugin module giving runner processes the `noop` kind. */
const NOOP_PLUGIN = fileURLToPath(new URL('./noop-plugin.js', import.meta.url))

interface Member {
  node: HorusNode
  roles: NodeRoles
}

/** One supervisor, `runners` runners and a client, each trusting the others. */
async function jobMesh(
  mesh: TestMesh,
  runners: number,
): Promise<{ sup: Member; cli: Member; all: Member[] }> {
  const dirs = await Promise.all(Array.from({ length: runners + 2 }, () => mesh.tempDir('horus-bench-')))
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
  const all: Member[] = []
  const start = async (dir: string, roles: Role[], bootstrap: string[], options?: AttachRolesOptions) => {
    const config = resolveConfig({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, roles, trust })
    const node = await createNode(config, { logger: createLogger(`bench-${all.length}`) })
    const attached = attachRoles(node, options)
    await attached.start()
    const member = { node, roles: attached }
    all.push(member)
    return member
  }
  const sup = await start(dirs[0] as string, ['supervisor'], [])
  const boot = [sup.node.multiaddrs()[0] as string]
  for (let i = 0; i < runners; i++) {
    await start(dirs[i + 1] as string, ['runner'], boot, {
      runner: { concurrency: RUNNER_CONCURRENCY, kinds: { noop: async () => null } },
    })
  }
  const cli = await start(dirs[runners + 1] as string, [], boot)
  await waitFor(
    () =>
      (sup.roles.supervisor?.runners().filter((r) => r.capabilities.includes('noop')).length ?? 0) ===
      runners,
    { timeoutMs: 30_000, what: 'every runner to be visible' },
  )
  return { sup, cli, all }
}

/** Completion events by job id, from one `supervisor.job_events` subscription. */
class Completions {
  private readonly waiting = new Map<string, () => void>()
  readonly done = new Set<string>()

  constructor(client: Libp2pRpcClient, signal: AbortSignal) {
    const events = client.subscribe<JobEvent>('supervisor.job_events', {}, { signal })
    this.ready = events.id.then(() => undefined)
    void (async () => {
      try {
        for await (const event of events) {
          if (event.status !== 'succeeded' && event.status !== 'failed') continue
          this.done.add(event.jobId)
          this.waiting.get(event.jobId)?.()
        }
      } catch {
        // The subscription ends with the bench (its signal aborts).
      }
    })()
  }

  readonly ready: Promise<void>

  wait(jobId: string): Promise<void> {
    if (this.done.has(jobId)) return Promise.resolve()
    return new Promise((resolve) => this.waiting.set(jobId, resolve))
  }
}

interface Measured {
  row: (string | number)[]
  floor: number[]
  sal: number[]
}

/**
 * The measurements, through `client` (a session to the supervisor) with jobs signed by `signer`:
 * RPC floor, warm-up, the pipelined burst, one-at-a-time latency and (when `withSal`) `sal` jobs.
 */
async function drive(
  client: Libp2pRpcClient,
  signer: JobSigner,
  runners: number,
  withSal: boolean,
  signal: AbortSignal,
): Promise<Measured> {
  const completions = new Completions(client, signal)
  await completions.ready
  const make = (fields: JobFields) => createJob(fields, signer)

  const floor: number[] = []
  for (let i = 0; i < FLOOR_CALLS; i++) {
    const t = process.hrtime.bigint()
    await client.call('node.health', {})
    floor.push(elapsedMs(t))
  }

  // Warm-up: connections, gossip mesh, JIT.
  const warm = Array.from({ length: 200 }, () => make({ runner: 'noop' }))
  await Promise.all(warm.map((j) => client.call('supervisor.create_job', { job: j })))
  await Promise.all(warm.map((j) => completions.wait(j.id)))

  const burst = Array.from({ length: JOBS }, () => make({ runner: 'noop' }))
  const t0 = process.hrtime.bigint()
  await Promise.all(burst.map((j) => client.call('supervisor.create_job', { job: j })))
  await Promise.all(burst.map((j) => completions.wait(j.id)))
  const jobsPerSecond = JOBS / (elapsedMs(t0) / 1000)

  const latency: number[] = []
  for (let i = 0; i < SEQUENTIAL; i++) {
    const j = make({ runner: 'noop' })
    const t = process.hrtime.bigint()
    await client.call('supervisor.create_job', { job: j })
    await completions.wait(j.id)
    latency.push(elapsedMs(t))
  }
  const sal: number[] = []
  if (withSal) {
    for (let i = 0; i < 100; i++) {
      const j = make({ runner: 'sal', payload: '1 + 1' })
      const t = process.hrtime.bigint()
      await client.call('supervisor.create_job', { job: j })
      await completions.wait(j.id)
      sal.push(elapsedMs(t))
    }
  }
  const p50 = percentile(latency, 50)
  return {
    row: [runners, jobsPerSecond, p50, percentile(latency, 99), p50 - percentile(floor, 50)],
    floor,
    sal,
  }
}

async function measure(runners: number): Promise<Measured> {
  const mesh = new TestMesh()
  const stopped = new AbortController()
  const clients: Libp2pRpcClient[] = []
  let all: Member[] = []
  try {
    const built = await jobMesh(mesh, runners)
    all = built.all
    const { sup, cli } = built
    const client = new Libp2pRpcClient({
      libp2p: cli.node.libp2p,
      target: sup.node.multiaddrs()[0] as string,
    })
    clients.push(client)
    return await drive(client, cli.node.trust.signer, runners, runners === 1, stopped.signal)
  } finally {
    stopped.abort()
    await Promise.allSettled(clients.map((c) => c.close()))
    for (const member of all.reverse()) {
      await member.roles.stop()
      // createNode'd here, not by the TestMesh: left running, their sockets kept the bench alive.
      await member.node.stop()
    }
    await mesh.cleanup()
  }
}

/**
 * The deployment shape: the supervisor and each runner a `horus node start` process of its own
 * (the no-op kind loaded from `noop-plugin.js` through `runner.plugins`), the client in this
 * process. Needs the build (`dist/`): the nodes run the built CLI.
 */
async function measureProcesses(runners: number, slots: number): Promise<Measured> {
  const mesh = new TestMesh()
  const processes = new ProcessMesh({ dir: await mesh.tempDir('horus-bench-proc-') })
  const stopped = new AbortController()
  let client: Libp2pRpcClient | undefined
  try {
    const [sup] = await processes.start([
      { name: 'sup', roles: ['supervisor'] },
      ...Array.from({ length: runners }, (_, i) => ({
        name: `run${i}`,
        roles: ['runner' as const],
        extra: { runner: { concurrency: slots, plugins: [NOOP_PLUGIN] } },
      })),
    ])
    const target = sup?.multiaddrs[0] as string
    const cli = await mesh.node({ dataDir: processes.clientDir, bootstrap: [target], name: 'bench-client' })
    const rpc = new Libp2pRpcClient({ libp2p: cli.libp2p, target })
    client = rpc
    await waitFor(
      async () =>
        (await rpc.call<RunnerView[]>('supervisor.list_runners', {})).filter((r) =>
          r.capabilities.includes('noop'),
        ).length === runners,
      { timeoutMs: 30_000, what: 'every runner process to be visible' },
    )
    return await drive(rpc, cli.trust.signer, runners, false, stopped.signal)
  } finally {
    stopped.abort()
    await client?.close().catch(() => undefined)
    await processes.stop()
    await mesh.cleanup()
  }
}

async function sandboxSetup(): Promise<{ setup: number[]; total: number[] }> {
  const sandbox = createSandbox()
  await sandbox.start()
  const setup: number[] = []
  const total: number[] = []
  try {
    for (let i = 0; i < SANDBOX_RUNS; i++) {
      const t = process.hrtime.bigint()
      const run = await sandbox.runScript({ code: '1 + 1', globals: { input: {}, env: {} } })
      total.push(elapsedMs(t))
      setup.push(run.timings.setupMs)
    }
  } finally {
    await sandbox.stop()
  }
  return { setup, total }
}

export async function runJobsBench(
  runnerCounts: number[] = [1, 2, 4],
  processRunnerCounts: number[] = [1, 2],
): Promise<BenchTable[]> {
  const rows: (string | number)[][] = []
  const floors: number[] = []
  let sal: number[] = []
  let noopP50 = Number.NaN
  let noopP99 = Number.NaN
  for (const runners of runnerCounts) {
    const measured = await measure(runners)
    rows.push(measured.row)
    floors.push(...measured.floor)
    if (measured.sal.length > 0) {
      sal = measured.sal
      noopP50 = measured.row[2] as number
      noopP99 = measured.row[3] as number
    }
  }
  const processRows: (string | number)[][] = []
  const processFloors: number[] = []
  for (const slots of PROCESS_SLOTS) {
    for (const runners of processRunnerCounts) {
      const measured = await measureProcesses(runners, slots)
      processRows.push([runners, slots, ...measured.row.slice(1)])
      processFloors.push(...measured.floor)
    }
  }
  const sandbox = await sandboxSetup()
  const processTable: BenchTable[] =
    processRows.length === 0
      ? []
      : [
          {
            title: `Jobs: ${JOBS} no-op jobs, supervisor and each runner in its own process (\`horus node start\`), client in the bench process`,
            columns: [
              'runners',
              'slots/runner',
              'jobs/s',
              'submit→result p50 ms',
              'p99 ms',
              'p50 over RPC floor ms',
            ],
            rows: processRows,
            note: `Floor: \`node.health\` RPC round trip client → supervisor process, p50 ${percentile(processFloors, 50).toFixed(2)} ms, p99 ${percentile(processFloors, 99).toFixed(2)} ms (same run). Same work per job as above; the client, supervisor and runner processes share the machine's 2 cores.`,
          },
        ]
  return [
    {
      title: `Jobs: ${JOBS} no-op jobs through 1 supervisor, runners × ${RUNNER_CONCURRENCY} slots (one process, loopback TCP)`,
      columns: ['runners', 'jobs/s', 'submit→result p50 ms', 'p99 ms', 'p50 over RPC floor ms'],
      rows,
      note: `Floor: \`node.health\` RPC round trip client → supervisor on the same session, p50 ${percentile(floors, 50).toFixed(2)} ms, p99 ${percentile(floors, 99).toFixed(2)} ms (same run). Every job is signed by the client, verified by the supervisor and by the runner, persisted, and its result signed by the runner and verified by the supervisor.`,
    },
    {
      title: 'QuickJS sandbox cost per job',
      columns: ['measure', 'p50 ms', 'p99 ms'],
      rows: [
        [
          'sandbox set-up (runtime + context + globals)',
          percentile(sandbox.setup, 50),
          percentile(sandbox.setup, 99),
        ],
        ['runScript("1 + 1") total', percentile(sandbox.total, 50), percentile(sandbox.total, 99)],
        ['sal job "1 + 1" submit→result (1 runner)', percentile(sal, 50), percentile(sal, 99)],
        ['no-op job submit→result (1 runner)', noopP50, noopP99],
      ],
      note: 'The sal row minus the no-op row is what the sandbox adds to a job end to end.',
    },
    ...processTable,
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const table of await runJobsBench()) process.stdout.write(`${formatTable(table)}\n`)
}
