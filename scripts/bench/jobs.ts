/**
 * Jobs end to end: 1 supervisor and 1, 2, 4 runners (real nodes in this process, loopback TCP,
 * noise, yamux), a client node signing jobs and calling `supervisor.create_job`.
 * - throughput: JOBS no-op jobs submitted pipelined, timed until the last `succeeded` event;
 * - latency: submit → `succeeded` event of one job at a time (p50/p99);
 * - floor: a trivial RPC round trip (`node.health`) on the same client → supervisor session;
 * - QuickJS: sandbox set-up per script run, and a `sal` job (`1 + 1`) end to end against no-op.
 */
import '../../src/node/polyfills.js'
import { resolveConfig } from '../../src/node/config/load.js'
import type { Role } from '../../src/node/config/types.js'
import { generateIdentity } from '../../src/node/identity.js'
import { createLogger } from '../../src/node/logger.js'
import { createNode, type HorusNode } from '../../src/node/node.js'
import { type AttachRolesOptions, attachRoles, type NodeRoles } from '../../src/node/roles.js'
import { createJob, type JobFields } from '../../src/protocols/jobs/index.js'
import { Libp2pRpcClient } from '../../src/protocols/rpc/index.js'
import { createSandbox } from '../../src/roles/runner/sandbox/index.js'
import type { JobEvent } from '../../src/roles/supervisor/index.js'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import { type BenchTable, elapsedMs, formatTable, percentile } from './table.js'

const JOBS = 2_000
const SEQUENTIAL = 300
const FLOOR_CALLS = 1_000
const SANDBOX_RUNS = 300
const RUNNER_CONCURRENCY = 4

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

async function measure(
  runners: number,
): Promise<{ row: (string | number)[]; floor: number[]; sal: number[] }> {
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
    const completions = new Completions(client, stopped.signal)
    await completions.ready
    const signer = cli.node.trust.signer
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
    if (runners === 1) {
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
  } finally {
    stopped.abort()
    await Promise.allSettled(clients.map((c) => c.close()))
    for (const member of all.reverse()) await member.roles.stop()
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

export async function runJobsBench(runnerCounts: number[] = [1, 2, 4]): Promise<BenchTable[]> {
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
  const sandbox = await sandboxSetup()
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
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const table of await runJobsBench()) process.stdout.write(`${formatTable(table)}\n`)
}
