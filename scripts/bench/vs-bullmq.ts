/**
 * Horus against BullMQ on the same machine, in the same run, through each one's public client API
 * (`npm run bench -- vs-bullmq`).
 *
 * Same shape on both sides: the producer in this process; the queue in its own process (a Horus
 * supervisor node / redis-server); one worker process with 32 slots (a Horus runner node with a
 * no-op kind from a plugin / a BullMQ `Worker`). Each job is submitted then awaited:
 * `HorusClient.createJob` + `waitForJob` against `queue.add` + `job.waitUntilFinished`.
 *
 * - throughput: JOBS no-op jobs with IN_FLIGHT submit+await loops running at once;
 * - burst: BURST jobs submitted at once, then all awaited;
 * - latency: one job at a time, p50/p99, beside each side's floor (a raw libp2p stream echo —
 *   the ping protocol — to the supervisor process; a redis PING);
 * - sandboxed: a Horus `sal` job running `1 + 1` in QuickJS against a BullMQ sandboxed processor
 *   (a child-process processor computing the same);
 * - crypto: what the signature work alone allows on this machine (the jobs layer's Ed25519 backend,
 *   measured here).
 * Every Horus job is signed by the client, verified by the supervisor and the runner, persisted
 * before it is acknowledged, and its result signed by the runner and verified by supervisor and
 * client.
 */
import '../../src/node/polyfills.js'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { Queue, QueueEvents } from 'bullmq'
import { Redis } from 'ioredis'
import { createLibp2p } from 'libp2p'
import { HorusClient } from '../../src/client/index.js'
import { limitHeapGrowth, NODE_HEAP_GROWING_PERCENT } from '../../src/node/heap-growth.js'
import {
  IDLE_HEAP_CHECK_MS,
  IDLE_INTERVALS,
  IdleHeapRelease,
  QUIET_BYTES_PER_MS,
  WINDOW_MS,
} from '../../src/node/idle-heap.js'
import { DEFAULT_REPLAY_PRUNE_INTERVAL_MS } from '../../src/protocols/jobs/constants.js'
import { defaultEd25519, signerFromSeed } from '../../src/protocols/jobs/index.js'
import { ProcessMesh, stopProcess, TestMesh, waitFor } from '../../src/testing/index.js'
import { REDIS_PERSISTENCE, startRedis } from './redis-server.js'
import { type BenchTable, elapsedMs, formatTable, percentile } from './table.js'

/** `BENCH_SCALE=0.1` runs a tenth of every count: a quick check that both sides work, not a result. */
const SCALE = Number(process.env.BENCH_SCALE ?? '1') > 0 ? Number(process.env.BENCH_SCALE ?? '1') : 1
const scaled = (n: number): number => Math.max(10, Math.round(n * SCALE))
const JOBS = scaled(5_000)
const IN_FLIGHT = 128
const BURST = scaled(10_000)
const SEQUENTIAL = scaled(300)
const SANDBOXED_JOBS = scaled(2_000)
const WARMUP = scaled(500)
const FLOOR_SAMPLES = scaled(300)
const SLOTS = 32
/** Upper bound on any one phase, so a stalled side fails the bench instead of hanging it. */
const PHASE_TIMEOUT_MS = 180_000

// Each `waitUntilFinished` in flight (up to BURST of them) legitimately listens on the shared Queue and
// QueueEvents objects at once; Node's default of 10 listeners would only print false leak warnings.
EventEmitter.defaultMaxListeners = BURST + IN_FLIGHT

const NOOP_PLUGIN = fileURLToPath(new URL('./noop-plugin.js', import.meta.url))
const BULLMQ_WORKER = fileURLToPath(new URL('./bullmq-worker.js', import.meta.url))

/** One side of the comparison: submit one job and resolve once it finished. */
interface Side {
  run(kind: 'noop' | 'sandboxed'): Promise<void>
  floor(): Promise<void>
  /** The side's other processes (queue, worker), whose CPU time counts with this one's. */
  pids: number[]
}

interface SideResults {
  jobsPerSecond: number
  /** CPU time of all the side's processes (producer included) per no-op job, in the throughput phase. */
  cpuMsPerJob: number
  /** The same per process: producer, queue, worker. */
  cpuMsPerJobEach: number[]
  burstPerSecond: number
  /** Calls that failed in any phase; the first failure's message. */
  failed: number
  firstFailure: string | undefined
  p50: number
  p99: number
  floorP50: number
  sandboxedPerSecond: number
  sandboxedP50: number
}

/**
 * CPU time (user + system, ms) used so far by this process and each of `pids`, from /proc, in that
 * order. Unlike jobs/s it hardly moves when other work shares the machine, so it is what compares
 * runs on a busy host.
 */
function cpuMs(pids: number[]): number[] {
  const own = process.cpuUsage()
  return [
    (own.user + own.system) / 1000,
    ...pids.map((pid) => {
      // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised command name.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
    }),
  ]
}

/** USER_HZ: Linux reports process times in hundredths of a second on every common build. */
const CLOCK_TICKS = 100

function withTimeout<T>(what: string, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} took over ${PHASE_TIMEOUT_MS} ms`)),
      PHASE_TIMEOUT_MS,
    )
    work.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}

/** A failed call is counted (and its first message kept), never retried: the table shows it. */
class Failures {
  count = 0
  first: string | undefined

  record(err: unknown): void {
    this.count++
    this.first ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  }
}

/** `count` jobs through `concurrency` submit+await loops; jobs per second (of the ones that succeeded). */
async function throughput(
  side: Side,
  kind: 'noop' | 'sandboxed',
  count: number,
  concurrency: number,
  failures: Failures,
): Promise<number> {
  let issued = 0
  const t0 = process.hrtime.bigint()
  const before = failures.count
  await withTimeout(
    `${count} ${kind} jobs`,
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (issued < count) {
          issued++
          await side.run(kind).catch((err: unknown) => failures.record(err))
        }
      }),
    ),
  )
  return (count - (failures.count - before)) / (elapsedMs(t0) / 1000)
}

/** `count` jobs submitted at once; jobs per second (of the ones that succeeded). */
async function burst(side: Side, count: number, failures: Failures): Promise<number> {
  const t0 = process.hrtime.bigint()
  const before = failures.count
  await withTimeout(
    `a burst of ${count}`,
    Promise.all(
      Array.from({ length: count }, () => side.run('noop').catch((err: unknown) => failures.record(err))),
    ),
  )
  return (count - (failures.count - before)) / (elapsedMs(t0) / 1000)
}

/** Latencies of `count` operations one after the other; a failed one is counted, not timed. */
async function samples(count: number, op: () => Promise<void>, failures?: Failures): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint()
    try {
      await op()
    } catch (err) {
      if (failures === undefined) throw err
      failures.record(err)
      continue
    }
    out.push(elapsedMs(t))
  }
  return out
}

async function measureSide(side: Side): Promise<SideResults> {
  const failures = new Failures()
  await throughput(side, 'noop', WARMUP, IN_FLIGHT, failures)
  const floor = await samples(FLOOR_SAMPLES, () => side.floor())
  const cpuBefore = cpuMs(side.pids)
  const phaseStart = process.hrtime.bigint() / 1000n
  const jobsPerSecond = await throughput(side, 'noop', JOBS, IN_FLIGHT, failures)
  if (process.env.BENCH_CPU_PROF !== undefined) {
    // For `cpu-profile.js --window`: the same monotonic clock V8 stamps its samples with.
    process.stderr.write(`throughput phase: --window ${phaseStart}-${process.hrtime.bigint() / 1000n}\n`)
  }
  const cpuMsPerJobEach = cpuMs(side.pids).map((ms, i) => (ms - (cpuBefore[i] ?? 0)) / JOBS)
  const cpuMsPerJob = cpuMsPerJobEach.reduce((a, b) => a + b, 0)
  const latency = await withTimeout(
    'sequential jobs',
    samples(SEQUENTIAL, () => side.run('noop'), failures),
  )
  const burstPerSecond = await burst(side, BURST, failures)
  await throughput(side, 'sandboxed', 100, 8, failures)
  const sandboxedPerSecond = await throughput(side, 'sandboxed', SANDBOXED_JOBS, IN_FLIGHT, failures)
  const sandboxedLatency = await samples(100, () => side.run('sandboxed'), failures)
  return {
    jobsPerSecond,
    cpuMsPerJob,
    cpuMsPerJobEach,
    burstPerSecond,
    failed: failures.count,
    firstFailure: failures.first,
    p50: percentile(latency, 50),
    p99: percentile(latency, 99),
    floorP50: percentile(floor, 50),
    sandboxedPerSecond,
    sandboxedP50: percentile(sandboxedLatency, 50),
  }
}

interface HorusSetup {
  /** The supervisor's config section. */
  supervisor?: Record<string, unknown>
  /** Fields of every job created. */
  job?: { ttlMs?: number }
  /** The producer's client options. */
  client?: { rememberedJobs?: number }
  /** Node.js flags of the supervisor and runner processes. */
  nodeArgs?: string[]
}

/** Starts the Horus side (producer here, supervisor and runner processes) and runs `measure` on it. */
async function withHorus<T>(measure: (side: Side) => Promise<T>, setup: HorusSetup = {}): Promise<T> {
  const { supervisor = {}, job: jobFields = {} } = setup
  const mesh = new TestMesh()
  // BENCH_CPU_PROF=<dir>: the supervisor and runner processes write V8 CPU profiles there on exit
  // (read them with `node dist/scripts/bench/cpu-profile.js`).
  const profileDir = process.env.BENCH_CPU_PROF
  const nodeArgs = [
    ...(setup.nodeArgs ?? []),
    ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
  ]
  const processes = new ProcessMesh({
    dir: await mesh.tempDir('horus-bench-vs-'),
    ...(nodeArgs.length === 0 ? {} : { nodeArgs }),
  })
  let client: HorusClient | undefined
  let pinger: Libp2p | undefined
  try {
    const [sup, runner] = await processes.start([
      { name: 'sup', roles: ['supervisor'], extra: { supervisor } },
      {
        name: 'run',
        roles: ['runner'],
        extra: { runner: { concurrency: SLOTS, plugins: [NOOP_PLUGIN] } },
      },
    ])
    const target = sup?.multiaddrs[0] as string
    const connected = await HorusClient.connect({
      bootstrap: [target],
      identity: processes.clientDir,
      ...setup.client,
    })
    client = connected
    // The floor: a raw stream round trip from a node in this process to the supervisor process —
    // 32 bytes echoed by the libp2p ping protocol, on one stream reused for every sample.
    // A bare libp2p host, not a mesh node: it must not become a node the client could talk to.
    pinger = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    })
    const floorHost = pinger
    await floorHost.dial(multiaddr(target))
    // The ping handler closes its stream after 10 s: a fresh one for each series of samples.
    let echo: PingEcho | undefined
    await waitFor(
      async () => {
        const peers = await connected.liveness({ role: 'runner' })
        return peers.some((p) => p.capabilities.includes('noop') && p.capabilities.includes('sal'))
      },
      { timeoutMs: 30_000, what: 'the runner process to be visible' },
    )
    const side: Side = {
      pids: [sup?.child.pid, runner?.child.pid].filter((pid): pid is number => pid !== undefined),
      async run(kind) {
        const job =
          kind === 'noop'
            ? await connected.createJob({ runner: 'noop', payload: '', ...jobFields })
            : await connected.createJob({ runner: 'sal', payload: '1 + 1', ...jobFields })
        const done = await connected.waitForJob(job.jobId)
        if (done.status !== 'succeeded') throw new Error(`job ${job.jobId} ended ${done.status}`)
      },
      async floor() {
        if (echo === undefined || echo.stream.writeStatus !== 'writable') {
          echo = new PingEcho(await floorHost.dialProtocol(multiaddr(target), PING_PROTOCOL))
        }
        await echo.roundTrip()
      },
    }
    return await measure(side)
  } finally {
    await client?.close().catch(() => undefined)
    await Promise.resolve(pinger?.stop()).catch(() => undefined)
    await processes.stop()
    await mesh.cleanup()
  }
}

/**
 * `BENCH_MEMORY=1`: RSS of each Horus process (producer, supervisor, runner) after the first
 * MEMORY_FIRST no-op jobs and again after MEMORY_JOBS, each read once the processes have been idle
 * for MEMORY_SETTLE_MS; issue 12 asks the second to be within MEMORY_BOUND of the first.
 *
 * What a process may hold is bounded by settings, set here explicitly so that the run shows
 * growth with history rather than the fill of a window: the supervisor keeps finished jobs
 * MEMORY_RETENTION_MS (pruned every tenth of it); supervisor and runner keep each job's
 * nonce in their replay caches until the job expires, MEMORY_JOB_TTL_MS after it was created
 * (default 10 minutes, longer than the run: the caches would grow for all of it by design); the
 * producer's client keeps the digests of the last MEMORY_REMEMBERED_JOBS jobs it created (default
 * 50,000: it would fill until half-way). The runner's result cache (10,000) is full by the first
 * reading. Node processes run with `horus node start`'s V8 heap setting (src/node/heap-growth.ts)
 * and its collection once idle (src/node/idle-heap.ts), the producer too: each reading then comes
 * after the collection at the first quiet window that follows the last expiries of the load, so
 * neither when V8 happens to collect nor how much young generation it keeps decides it.
 * `BENCH_MEMORY_V8_DEFAULT=1` runs all three with V8's default heap growth instead (and the
 * producer without the idle collection; the nodes always have it). The run
 * stops issuing jobs at MEMORY_BUDGET_MS (`BENCH_MEMORY_BUDGET_S`) and says how many it ran.
 */
const MEMORY = process.env.BENCH_MEMORY === '1'
const MEMORY_FIRST = scaled(10_000)
const MEMORY_JOBS = scaled(100_000)
const MEMORY_RETENTION_MS = 10_000
const MEMORY_JOB_TTL_MS = 30_000
const MEMORY_REMEMBERED_JOBS = 10_000
const MEMORY_V8_DEFAULT = process.env.BENCH_MEMORY_V8_DEFAULT === '1'
/**
 * Idle time before each reading: finished jobs past retention pruned (twice the retention) and
 * the last jobs' nonces expired and swept (their validity and a sweep interval), then room for
 * each process's collection at a quiet window (src/node/idle-heap.ts): the window the last sweep
 * fell in, a quiet one after it, and two checks' worth of margin (a loaded host's nodes took up
 * to 28 s after the load to be idle for three checks in a row).
 */
const MEMORY_SETTLE_MS =
  Math.max(2 * MEMORY_RETENTION_MS, MEMORY_JOB_TTL_MS + DEFAULT_REPLAY_PRUNE_INTERVAL_MS) +
  2 * WINDOW_MS +
  2 * IDLE_HEAP_CHECK_MS
const MEMORY_BUDGET_MS = Number(process.env.BENCH_MEMORY_BUDGET_S ?? '1200') * 1000
/** Issue 12: RSS after MEMORY_JOBS at most this much above RSS after MEMORY_FIRST. */
const MEMORY_BOUND = 0.1

/** Resident set size of a process in MiB, from /proc. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? Number.NaN) / 1024
}

/**
 * Of the RSS, the anonymous memory (V8's heap, malloc: LevelDB, buffers) in MiB, from
 * /proc/<pid>/smaps_rollup; the rest is mapped files (the node binary, native modules).
 */
function anonymousMiB(pid: number): number {
  const match = /^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
  return Number(match?.[1] ?? Number.NaN) / 1024
}

/** Jobs through IN_FLIGHT submit+await loops until `count` or `deadline` (ms since epoch); how many ran. */
async function jobsUntil(side: Side, count: number, deadline: number, failures: Failures): Promise<number> {
  let issued = 0
  const loops = Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (issued < count && Date.now() < deadline) {
        issued++
        await side.run('noop').catch((err: unknown) => failures.record(err))
      }
    }),
  )
  // Jobs still out at the deadline get PHASE_TIMEOUT_MS to finish; a stalled side fails the bench.
  let timer: NodeJS.Timeout | undefined
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`jobs still unfinished ${PHASE_TIMEOUT_MS} ms after the memory budget`)),
      Math.max(0, deadline - Date.now()) + PHASE_TIMEOUT_MS,
    )
  })
  try {
    await Promise.race([loops, stalled])
  } finally {
    clearTimeout(timer)
  }
  return issued
}

interface MemoryReading {
  rss: number
  anonymous: number
}

interface MemoryResults {
  processes: string[]
  first: MemoryReading[]
  last: MemoryReading[]
  /** CPU ms per job of each process over the whole run. */
  cpuMsPerJob: number[]
  jobs: number
  seconds: number
  failed: number
  firstFailure: string | undefined
}

async function measureMemory(side: Side): Promise<MemoryResults> {
  const failures = new Failures()
  const pids = [process.pid, ...side.pids]
  const settle = () => new Promise((resolve) => setTimeout(resolve, MEMORY_SETTLE_MS))
  const read = (): MemoryReading[] => pids.map((pid) => ({ rss: rssMiB(pid), anonymous: anonymousMiB(pid) }))
  const t0 = Date.now()
  const cpuBefore = cpuMs(side.pids)
  const deadline = t0 + MEMORY_BUDGET_MS
  // For a diagnostic preload sampling the processes (memory-probe.ts): when each phase ended.
  const mark = (what: string): void => void process.stderr.write(`memory: ${what} at ${Date.now()}\n`)
  mark(`jobs start (processes ${pids.join(', ')})`)
  let jobs = await jobsUntil(side, MEMORY_FIRST, deadline, failures)
  mark(`${jobs} jobs done`)
  await settle()
  const first = read()
  mark('first reading')
  jobs += await jobsUntil(side, MEMORY_JOBS - jobs, deadline, failures)
  mark(`${jobs} jobs done`)
  const seconds = (Date.now() - t0) / 1000
  const cpuMsPerJob = cpuMs(side.pids).map((ms, i) => (ms - (cpuBefore[i] ?? 0)) / jobs)
  await settle()
  const last = read()
  mark('last reading')
  return {
    processes: ['producer (SDK client)', 'supervisor', 'runner'],
    first,
    last,
    cpuMsPerJob,
    jobs,
    seconds,
    failed: failures.count,
    firstFailure: failures.first,
  }
}

function memoryTable(m: MemoryResults): BenchTable {
  const bound = `${(MEMORY_BOUND * 100).toFixed(0)} %`
  return {
    title: `Horus memory: RSS after ${MEMORY_FIRST} and after ${m.jobs} no-op jobs (${IN_FLIGHT} in flight), each after ${MEMORY_SETTLE_MS / 1000} s idle`,
    columns: [
      'process',
      `RSS MiB after ${MEMORY_FIRST}`,
      `RSS MiB after ${m.jobs}`,
      'change',
      `within ${bound}`,
      `of which anonymous MiB, after ${MEMORY_FIRST} → ${m.jobs}`,
      'CPU ms per job',
    ],
    rows: m.processes.map((name, i) => {
      const [a, b] = [m.first[i] as MemoryReading, m.last[i] as MemoryReading]
      const change = (b.rss - a.rss) / a.rss
      return [
        name,
        a.rss,
        b.rss,
        `${(change * 100).toFixed(1)} %`,
        change <= MEMORY_BOUND && m.jobs >= MEMORY_JOBS ? 'PASS' : 'FAIL',
        `${a.anonymous.toFixed(0)} → ${b.anonymous.toFixed(0)}`,
        m.cpuMsPerJob[i] ?? Number.NaN,
      ]
    }),
    note:
      `Supervisor retention ${MEMORY_RETENTION_MS / 1000} s (finished jobs are dropped from memory and disk after it); ` +
      `jobs valid ${MEMORY_JOB_TTL_MS / 1000} s (how long supervisor and runner keep each nonce to refuse replays); ` +
      `the producer remembers its last ${MEMORY_REMEMBERED_JOBS} jobs' digests. V8 heap growth: ` +
      (MEMORY_V8_DEFAULT
        ? "V8's default (BENCH_MEMORY_V8_DEFAULT=1). "
        : `--heap-growing-percent=${NODE_HEAP_GROWING_PERCENT} (horus node start's setting), the producer too. `) +
      `Each process collects its heap at the first ${WINDOW_MS / 1000} s window allocating under ${QUIET_BYTES_PER_MS} bytes per ms once it has been idle ${(IDLE_INTERVALS * IDLE_HEAP_CHECK_MS) / 1000} s, and again at a later one while the heap grows back (horus node start's setting${MEMORY_V8_DEFAULT ? '; not in the producer with BENCH_MEMORY_V8_DEFAULT=1' : ', the producer too'}), so both readings come after the collection that follows the load's last expiries. ` +
      `${m.jobs} jobs in ${m.seconds.toFixed(0)} s, ${m.failed} failed` +
      (m.firstFailure === undefined ? '' : ` (first: ${m.firstFailure})`) +
      (m.jobs < MEMORY_JOBS
        ? `; stopped at the ${MEMORY_BUDGET_MS / 1000} s budget before ${MEMORY_JOBS}, so every row FAILs.`
        : '.'),
  }
}

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32

/**
 * A raw stream echo on one long-lived ping stream: the ping handler echoes every 32 bytes it reads
 * until the stream closes. (One `ping()` per sample opens a stream each, and closed ones linger
 * past the protocol's stream limit.)
 */
class PingEcho {
  private received = 0
  private waiting: { until: number; resolve: () => void } | undefined

  constructor(readonly stream: Stream) {
    stream.addEventListener('message', (evt) => {
      this.received += evt.data.byteLength
      const waiting = this.waiting
      if (waiting !== undefined && this.received >= waiting.until) {
        this.waiting = undefined
        waiting.resolve()
      }
    })
  }

  async roundTrip(): Promise<void> {
    const until = this.received + PING_BYTES
    const done = new Promise<void>((resolve) => {
      this.waiting = { until, resolve }
    })
    if (!this.stream.send(randomBytes(PING_BYTES))) await this.stream.onDrain()
    await done
  }
}

async function startBullWorker(
  port: number,
  queue: string,
  mode: 'noop' | 'sandboxed',
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BULLMQ_WORKER, String(port), queue, String(SLOTS), mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })
  const signal = AbortSignal.timeout(30_000)
  const exited = once(child, 'exit', { signal }).then(([code]) => {
    throw new Error(`BullMQ worker exited with ${String(code)} before it was ready`)
  })
  await Promise.race([once(lines, 'line', { signal }), exited])
  return child
}

async function measureBullmq(): Promise<SideResults & { redisVersion: string }> {
  const redis = await startRedis()
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }
  const queues = {
    noop: new Queue('bench-noop', { connection }),
    sandboxed: new Queue('bench-sandboxed', { connection }),
  }
  const events = {
    noop: new QueueEvents('bench-noop', { connection }),
    sandboxed: new QueueEvents('bench-sandboxed', { connection }),
  }
  const ping = new Redis(connection)
  const workers: ChildProcess[] = []
  try {
    workers.push(await startBullWorker(redis.port, 'bench-noop', 'noop'))
    workers.push(await startBullWorker(redis.port, 'bench-sandboxed', 'sandboxed'))
    await Promise.all([...Object.values(queues), ...Object.values(events)].map((q) => q.waitUntilReady()))
    const side: Side = {
      pids: [redis.pid, workers[0]?.pid].filter((pid): pid is number => pid !== undefined),
      async run(kind) {
        const job = await queues[kind].add('job', {})
        await job.waitUntilFinished(events[kind], PHASE_TIMEOUT_MS)
      },
      async floor() {
        await ping.ping()
      },
    }
    return { ...(await measureSide(side)), redisVersion: redis.version }
  } finally {
    await Promise.allSettled(workers.map((w) => stopProcess(w)))
    ping.disconnect()
    await Promise.allSettled([...Object.values(queues), ...Object.values(events)].map((q) => q.close()))
    await redis.stop()
  }
}

function skippedSide(): SideResults & { redisVersion: string } {
  return {
    jobsPerSecond: Number.NaN,
    cpuMsPerJob: Number.NaN,
    cpuMsPerJobEach: [],
    burstPerSecond: Number.NaN,
    failed: 0,
    firstFailure: undefined,
    p50: Number.NaN,
    p99: Number.NaN,
    floorP50: Number.NaN,
    sandboxedPerSecond: Number.NaN,
    sandboxedP50: Number.NaN,
    redisVersion: 'not measured',
  }
}

/**
 * Jobs per second the Ed25519 work alone allows. Per job: 2 signatures (the client's job, the
 * runner's result) and 4 verifications (the job at the supervisor and at the runner, the result at
 * the supervisor and at the client).
 */
function cryptoBound(): { signPerSecond: number; verifyPerSecond: number; jobsPerCore: number } {
  const signer = signerFromSeed(new Uint8Array(32).fill(7))
  const message = new Uint8Array(600).fill(1)
  const signature = signer.sign(message)
  const rate = (op: () => void): number => {
    const until = performance.now() + 1_000
    let n = 0
    const start = performance.now()
    while (performance.now() < until) {
      for (let i = 0; i < 20; i++) op()
      n += 20
    }
    return (n * 1000) / (performance.now() - start)
  }
  const signPerSecond = rate(() => signer.sign(message))
  const verifyPerSecond = rate(() => defaultEd25519.verify(signature, message, signer.publicKey))
  const jobsPerCore = 1 / (2 / signPerSecond + 4 / verifyPerSecond)
  return { signPerSecond, verifyPerSecond, jobsPerCore }
}

function eachProcess(ms: number[]): string {
  return ms.length === 0 ? 'n/a' : ms.map((m) => m.toFixed(2)).join(' / ')
}

function failureNote(name: string, side: SideResults): string {
  return side.firstFailure === undefined ? '' : ` ${name}'s first failed call: ${side.firstFailure}.`
}

export async function runVsBullmqBench(): Promise<BenchTable[]> {
  if (MEMORY) {
    // The producer runs with the nodes' heap settings (growth, collection once idle) unless V8's
    // default is asked for; an application using the SDK chooses its own.
    const idleHeap = new IdleHeapRelease()
    if (!MEMORY_V8_DEFAULT) {
      limitHeapGrowth()
      idleHeap.start()
    }
    try {
      const memory = await withHorus(measureMemory, {
        supervisor: { retentionMs: MEMORY_RETENTION_MS },
        job: { ttlMs: MEMORY_JOB_TTL_MS },
        client: { rememberedJobs: MEMORY_REMEMBERED_JOBS },
        ...(MEMORY_V8_DEFAULT ? { nodeArgs: ['--heap-growing-percent=0'] } : {}),
      })
      return [memoryTable(memory)]
    } finally {
      idleHeap.stop()
    }
  }
  // BENCH_SIDE=horus measures Horus alone (profiling, quick iterations): the ratios then read n/a.
  const bull = process.env.BENCH_SIDE === 'horus' ? skippedSide() : await measureBullmq()
  const horus = await withHorus(measureSide)
  const crypto = cryptoBound()
  const cores = cpus().length
  const cryptoJobs = crypto.jobsPerCore * cores
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`
  return [
    {
      title: `Horus vs BullMQ ${bull.redisVersion === 'unknown' ? '' : `(redis-server ${bull.redisVersion}) `}— producer, queue and a ${SLOTS}-slot worker in three processes`,
      columns: ['measure', 'Horus', 'BullMQ', 'Horus ÷ BullMQ'],
      rows: [
        [
          `no-op jobs/s, ${IN_FLIGHT} in flight (${JOBS} jobs)`,
          horus.jobsPerSecond,
          bull.jobsPerSecond,
          ratio(horus.jobsPerSecond, bull.jobsPerSecond),
        ],
        [
          `burst: ${BURST} submitted at once, jobs/s`,
          horus.burstPerSecond,
          bull.burstPerSecond,
          ratio(horus.burstPerSecond, bull.burstPerSecond),
        ],
        [
          'CPU ms per no-op job, all processes (producer + queue + worker)',
          horus.cpuMsPerJob,
          bull.cpuMsPerJob,
          ratio(horus.cpuMsPerJob, bull.cpuMsPerJob),
        ],
        [
          'the same per process: producer / queue / worker',
          eachProcess(horus.cpuMsPerJobEach),
          eachProcess(bull.cpuMsPerJobEach),
          '–',
        ],
        [
          `no-op jobs/s ${cores} idle cores allow (${cores * 1000} ÷ CPU ms per job)`,
          (cores * 1000) / horus.cpuMsPerJob,
          (cores * 1000) / bull.cpuMsPerJob,
          ratio(bull.cpuMsPerJob, horus.cpuMsPerJob),
        ],
        ['calls that failed (all phases)', horus.failed, bull.failed, '–'],
        ['one at a time: submit → result p50 ms', horus.p50, bull.p50, ratio(horus.p50, bull.p50)],
        ['one at a time: p99 ms', horus.p99, bull.p99, ratio(horus.p99, bull.p99)],
        [
          'floor p50 ms (libp2p stream echo / redis PING)',
          horus.floorP50,
          bull.floorP50,
          ratio(horus.floorP50, bull.floorP50),
        ],
        [
          `sandboxed script jobs/s, ${IN_FLIGHT} in flight (sal "1 + 1" / sandboxed processor)`,
          horus.sandboxedPerSecond,
          bull.sandboxedPerSecond,
          ratio(horus.sandboxedPerSecond, bull.sandboxedPerSecond),
        ],
        [
          'sandboxed script, one at a time: p50 ms',
          horus.sandboxedP50,
          bull.sandboxedP50,
          ratio(horus.sandboxedP50, bull.sandboxedP50),
        ],
      ],
      note:
        `Same run, same machine (${cores} cores). Redis persistence: ${REDIS_PERSISTENCE}; Horus: LevelDB ` +
        'write before each acknowledgement (both survive a kill -9, neither fsyncs per job). Jobs are ' +
        'awaited with `HorusClient.waitForJob` / `job.waitUntilFinished(QueueEvents)`.' +
        failureNote('Horus', horus) +
        failureNote('BullMQ', bull),
    },
    {
      title: `Horus jobs/s against the signature work alone (2 signs + 4 verifies per job, ${defaultEd25519.name})`,
      columns: ['measure', 'value'],
      rows: [
        ['Ed25519 sign/s, one core', crypto.signPerSecond],
        ['Ed25519 verify/s, one core', crypto.verifyPerSecond],
        ['crypto-bound jobs/s, one core', crypto.jobsPerCore],
        [`crypto-bound jobs/s, ${cores} cores`, cryptoJobs],
        [
          'no-op jobs/s ÷ crypto-bound (all cores)',
          `${((horus.jobsPerSecond / cryptoJobs) * 100).toFixed(0)} %`,
        ],
        [
          'burst jobs/s ÷ crypto-bound (all cores)',
          `${((horus.burstPerSecond / cryptoJobs) * 100).toFixed(0)} %`,
        ],
      ],
    },
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const table of await runVsBullmqBench()) process.stdout.write(`${formatTable(table)}\n`)
}
