/**
 * The scale bench's meshes spread over worker processes: one event loop can carry only so many
 * idle nodes (N = 50 × ~24 ms of CPU per node per second is more than the one core a loop can
 * use), so N nodes live in P forked workers (`scale-worker.ts`), node i in worker i mod P, and
 * this process (the controller) starts them in the same order as the in-process mesh, then
 * collects the same figures over IPC: per-node counters are summed over the workers, CPU and RSS
 * are the workers' own (the controller hosts no node).
 *
 * Every worker is stopped and its data dirs removed on every exit path: a normal end or a failed
 * size (bounded stop, then SIGKILL), SIGINT/SIGTERM of the bench (SIGKILL, dirs removed, exit),
 * and the controller's own death (each worker exits and removes its dirs when the channel closes).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import {
  benchCid,
  DHT_DEADLINE_MS,
  gossipOver,
  identities,
  idleWindowMs,
  JOIN_DEADLINE_MS,
  progress,
  type ScaleRow,
  START_CONCURRENCY,
  STOP_BATCH_MS,
  VIEW_DEADLINE_MS,
  within,
} from './scale.js'
import type { ArrivalEvent, NodeSpec, OpName, Reply, WorkerOps } from './scale-ipc.js'
import { percentile } from './table.js'

/** USER_HZ: Linux reports process CPU times in 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS = 100
/** Nodes one worker's event loop is given at most (N = 20 idled at ~0.6 core in one process). */
const NODES_PER_PROCESS = 25
/** How long a worker may take to come up and answer its first request. */
const FORK_DEADLINE_MS = 120_000
/** A start request creates START_CONCURRENCY nodes at most; createNode can starve too. */
const START_DEADLINE_MS = 120_000
/** Any short request (a view count, a counter snapshot). */
const REQUEST_DEADLINE_MS = 30_000

/**
 * Workers for N nodes: `BENCH_SCALE_PROCS` if set, otherwise at least one per core and at most
 * NODES_PER_PROCESS nodes in each (never more workers than nodes).
 */
export function workerCount(n: number): number {
  const fixed = Number(process.env.BENCH_SCALE_PROCS)
  if (Number.isInteger(fixed) && fixed > 0) return Math.min(n, fixed)
  return Math.min(n, Math.max(availableParallelism(), Math.ceil(n / NODES_PER_PROCESS)))
}

class WorkerFailedError extends Error {
  override readonly name = 'WorkerFailedError'
}

/** One forked worker and its pending requests; a request that is late or whose worker died rejects. */
class Worker {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  private nextId = 0
  private exitReason: string | undefined
  readonly exited: Promise<void>

  constructor(
    readonly k: number,
    onArrival: (seq: number, at: number) => void,
  ) {
    this.child = fork(new URL('./scale-worker.js', import.meta.url), [], {
      // stdout goes to our stderr: the bench's stdout carries only its tables.
      stdio: ['ignore', 2, 2, 'ipc'],
      serialization: 'advanced',
      execArgv: [...process.execArgv, '--expose-gc'],
    })
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitReason = `worker ${k} (pid ${this.child.pid}) exited (${signal ?? `code ${code}`})`
        for (const { reject } of this.pending.values()) reject(new WorkerFailedError(this.exitReason))
        this.pending.clear()
        resolve()
      })
    })
    this.child.on('message', (message: Reply | ArrivalEvent) => {
      if ('arrival' in message) return onArrival(message.arrival.seq, message.arrival.at)
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.ok) waiting?.resolve(message.result)
      else waiting?.reject(new WorkerFailedError(`worker ${k}: ${message.error}`))
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** CPU seconds the worker has used so far (user + system, from /proc); 0 once it is gone. */
  cpuSeconds(): number {
    try {
      // Fields after the command name: state is the 1st, utime the 12th, stime the 13th (clock ticks).
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
    } catch {
      return 0
    }
  }

  request<K extends OpName>(
    op: K,
    args: WorkerOps[K]['args'],
    timeoutMs = REQUEST_DEADLINE_MS,
  ): Promise<WorkerOps[K]['result']> {
    if (this.exitReason !== undefined) return Promise.reject(new WorkerFailedError(this.exitReason))
    const id = this.nextId++
    return new Promise<WorkerOps[K]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new WorkerFailedError(`worker ${this.k}: ${op} took over ${timeoutMs / 1000} s`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer)
          resolve(v as WorkerOps[K]['result'])
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      this.child.send({ id, op, args })
    })
  }

  kill(): void {
    if (this.exitReason === undefined) this.child.kill('SIGKILL')
  }
}

/** P workers for one mesh size, with what it takes to end them on every path. */
class Workers {
  readonly all: Worker[]
  private readonly dirs: string[] = []
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.killNow()
    process.stderr.write(`scale: ${signal}: workers killed, data dirs removed\n`)
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  private readonly onExit = (): void => this.killNow()
  private readonly arrivals = new Map<number, number[]>()

  constructor(p: number) {
    this.all = Array.from(
      { length: p },
      (_, k) => new Worker(k, (seq, at) => this.arrivals.get(seq)?.push(at)),
    )
    process.once('SIGINT', this.onSignal)
    process.once('SIGTERM', this.onSignal)
    process.once('exit', this.onExit)
  }

  /** The worker that hosts node i. */
  of(i: number): Worker {
    return this.all[i % this.all.length] as Worker
  }

  track(dirs: string[]): void {
    this.dirs.push(...dirs)
  }

  expectArrivals(seq: number): void {
    this.arrivals.set(seq, [])
  }

  arrivalsOf(seq: number): number[] {
    return this.arrivals.get(seq) ?? []
  }

  async each<K extends OpName>(
    op: K,
    args: WorkerOps[K]['args'],
    timeoutMs?: number,
  ): Promise<WorkerOps[K]['result'][]> {
    return Promise.all(this.all.map((w) => w.request(op, args, timeoutMs)))
  }

  /** Synchronous: for signals and process exit, where nothing can be awaited. */
  private killNow(): void {
    for (const w of this.all) w.kill()
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true })
  }

  /** Stops the nodes (bounded), then kills whatever is left; says on stderr what was late. */
  async close(n: number): Promise<void> {
    const perWorker = Math.ceil(n / this.all.length / 50)
    const stopMs = STOP_BATCH_MS * perWorker + 10_000
    const stopped = await Promise.allSettled(this.all.map((w) => w.request('stop', {}, stopMs)))
    const late = stopped.reduce((acc, s) => acc + (s.status === 'fulfilled' ? s.value.late : 0), 0)
    const failed = stopped.filter((s) => s.status === 'rejected').length
    if (late > 0 || failed > 0)
      progress(
        n,
        `${late} node(s) still stopping after ${STOP_BATCH_MS / 1000} s, ${failed} worker(s) did not stop; killed`,
      )
    if (!(await within(Promise.all(this.all.map((w) => w.exited)), 5_000))) for (const w of this.all) w.kill()
    await within(Promise.all(this.all.map((w) => w.exited)), 5_000)
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    process.off('exit', this.onExit)
  }
}

/** Starts the N nodes across the workers in the in-process order: a seed, two more seeds, then batches. */
async function startSpread(
  workers: Workers,
  dirs: string[],
  trust: unknown,
): Promise<{ lastStartAt: number; peerIds: string[] }> {
  const n = dirs.length
  const peerIds: string[] = []
  const start = async (specs: NodeSpec[], awaitJoin: boolean): Promise<string[]> => {
    const byWorker = new Map<Worker, NodeSpec[]>()
    for (const spec of specs)
      byWorker.set(workers.of(spec.index), [...(byWorker.get(workers.of(spec.index)) ?? []), spec])
    const replies = await Promise.all(
      [...byWorker].map(([w, nodes]) =>
        w.request(
          'start',
          { nodes, trust, awaitJoin },
          START_DEADLINE_MS + (awaitJoin ? JOIN_DEADLINE_MS : 0),
        ),
      ),
    )
    const started = replies.flat()
    for (const s of started) peerIds[s.index] = s.peerId
    return specs.map((spec) => started.find((s) => s.index === spec.index)?.addr as string)
  }
  const spec = (index: number, bootstrap: string[]): NodeSpec => ({
    index,
    dir: dirs[index] as string,
    bootstrap,
  })
  const seeds = await start([spec(0, [])], false)
  // Three seed nodes, as a real mesh has a few bootstrap nodes; every later node names two of them.
  for (let i = 1; i < Math.min(3, n); i++) seeds.push(...(await start([spec(i, [...seeds])], true)))
  let reported = Date.now()
  for (let i = 3; i < n; i += START_CONCURRENCY) {
    await start(
      Array.from({ length: Math.min(START_CONCURRENCY, n - i) }, (_, j) =>
        spec(i + j, [seeds[(i + j) % seeds.length] as string, seeds[(i + j + 1) % seeds.length] as string]),
      ),
      false,
    )
    if (Date.now() - reported > 10_000) {
      progress(n, `${Math.min(n, i + START_CONCURRENCY)} of ${n} nodes started`)
      reported = Date.now()
    }
  }
  return { lastStartAt: Date.now(), peerIds }
}

/** `measureMesh` for N nodes spread over `p` worker processes. */
export async function measureSpreadMesh(n: number, p: number): Promise<{ row: ScaleRow }> {
  const mesh = new TestMesh()
  const workers = new Workers(p)
  const began = Date.now()
  try {
    const { dirs, trust } = await identities(mesh, n)
    workers.track(dirs)
    // Before any node starts: a worker whose controller dies removes the dirs of all its nodes.
    await Promise.all(
      workers.all.map((w, k) =>
        w.request('adopt', { dirs: dirs.filter((_, i) => i % p === k) }, FORK_DEADLINE_MS),
      ),
    )
    const base = await workers.each('footprint', {}, FORK_DEADLINE_MS)
    progress(n, `${p} worker processes up (pids ${workers.all.map((w) => w.pid).join(', ')})`)
    const t0 = Date.now()
    const { lastStartAt, peerIds } = await startSpread(workers, dirs, trust)
    const startAllS = (lastStartAt - t0) / 1000
    const joined = await workers.each('joins', {}, JOIN_DEADLINE_MS + REQUEST_DEADLINE_MS)
    const notJoined = joined.reduce((acc, j) => acc + j.notJoined, 0)
    progress(
      n,
      `${n} nodes started in ${startAllS.toFixed(1)} s over ${p} processes (${notJoined} heard no peer)`,
    )
    const views = async (): Promise<number[]> => (await workers.each('views', {})).flat()
    let fullViewS: number | undefined
    try {
      await waitFor(async () => (await views()).every((alive) => alive >= n - 1), {
        what: 'every node to hear every other',
        timeoutMs: VIEW_DEADLINE_MS,
        intervalMs: 250,
      })
      fullViewS = (Date.now() - lastStartAt) / 1000
    } catch {}
    progress(n, fullViewS === undefined ? 'views incomplete at the deadline' : 'every node hears every other')
    const after = await workers.each('footprint', {})
    const rssMiBPerNode = after.reduce((acc, f, k) => acc + f.rss - (base[k]?.rss ?? 0), 0) / n / 1024 / 1024
    const fdsPerNode = after.reduce((acc, f, k) => acc + f.fds - (base[k]?.fds ?? 0), 0) / n
    await workers.each('idleBegin', {})
    await new Promise((r) => setTimeout(r, idleWindowMs(n)))
    const idle = await workers.each('idleEnd', {})
    const seconds = Math.max(...idle.map((w) => w.seconds))
    const conns = idle.flatMap((w) => w.connections)
    const heartbeatsPerNodeS = idle.reduce((acc, w) => acc + w.heartbeats, 0) / n / seconds
    const bytesPerNodeS = idle.reduce((acc, w) => acc + w.bytesRead, 0) / n / seconds
    const cpuMsPerNodeS = idle.reduce((acc, w) => acc + w.cpuMs, 0) / n / seconds
    const alive = await views()
    const viewPct =
      n < 2 ? 100 : (100 * alive.reduce((acc, a) => acc + Math.min(n - 1, a), 0)) / ((n - 1) * n)
    progress(
      n,
      `idle: ${heartbeatsPerNodeS.toFixed(1)} heartbeats, ${(bytesPerNodeS / 1024).toFixed(1)} KiB, ${cpuMsPerNodeS.toFixed(1)} ms CPU per node per second; ${(conns.reduce((a, b) => a + b, 0) / n).toFixed(1)} connections per node (max ${Math.max(...conns)}); views ${viewPct.toFixed(1)} % of the mesh`,
    )
    await workers.each('gossipSubscribe', {})
    const publisher = Math.floor(n / 3)
    const gossiped = await gossipOver(n, {
      notReady: async () => (await workers.each('gossipNotReady', {})).reduce((a, b) => a + b, 0),
      publish: async (seq) => {
        workers.expectArrivals(seq)
        return workers.of(publisher).request('gossipPublish', { index: publisher, seq })
      },
      arrivals: (seq) => workers.arrivalsOf(seq),
    })
    await workers.each('gossipUnsubscribe', {})
    progress(n, `gossip: ${gossiped.latencies.length} deliveries, ${gossiped.missing} missing`)
    const provider = Math.floor(n / 2)
    const seeker = n - 1
    const cid = (await benchCid(n)).toString()
    const dhtMs = DHT_DEADLINE_MS + REQUEST_DEADLINE_MS
    const provideMs = await workers.of(provider).request('provide', { index: provider, cid }, dhtMs)
    const found = await workers
      .of(seeker)
      .request('find', { index: seeker, cid, provider: peerIds[provider] as string }, dhtMs)
    progress(n, `DHT: provide ${provideMs.toFixed(0)} ms, find ${found.findMs.toFixed(0)} ms`)
    const joinMs = joined.flatMap((j) => j.joinMs)
    return {
      row: {
        n,
        procs: p,
        procBaseMiB: base.reduce((acc, f) => acc + f.rss, 0) / p / 1024 / 1024,
        notJoined,
        startAllS,
        joinP50Ms: percentile(joinMs.length > 0 ? joinMs : [0], 50),
        joinP99Ms: percentile(joinMs.length > 0 ? joinMs : [0], 99),
        fullViewS,
        viewPct,
        gossipP50Ms: percentile(gossiped.latencies, 50),
        gossipP99Ms: percentile(gossiped.latencies, 99),
        gossipMissing: gossiped.missing,
        provideMs,
        findMs: found.findMs,
        findQueried: found.queried,
        findHops: found.hops,
        fdsPerNode,
        heartbeatsPerNodeS,
        bytesPerNodeS,
        cpuMsPerNodeS,
        rssMiBPerNode,
        connsMean: conns.reduce((a, b) => a + b, 0) / n,
        connsMax: Math.max(...conns),
      },
    }
  } catch (err) {
    // Most failures here are starvation: say how much CPU the workers got, against the host.
    const cores = workers.all.reduce((acc, w) => acc + w.cpuSeconds(), 0) / ((Date.now() - began) / 1000)
    throw new WorkerFailedError(
      `${(err as Error).message} (its ${p} workers got ${cores.toFixed(2)} cores over ${((Date.now() - began) / 1000).toFixed(0)} s; load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)`,
    )
  } finally {
    await workers.close(n)
    if (!(await within(mesh.cleanup(), STOP_BATCH_MS)))
      progress(n, `data directories not removed after ${STOP_BATCH_MS / 1000} s; moving on`)
  }
}
