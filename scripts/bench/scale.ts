/**
 * The mesh at scale: N real nodes (loopback TCP, noise, yamux, gossipsub, the DHT, liveness, the
 * trust policy, a LevelDB datastore each), and c coordinator nodes running workflows.
 *
 * Per N: join time, time until every node hears every other (presence), gossip latency to all
 * nodes, a DHT provide and find (time, peers queried), and over an idle window: heartbeats received
 * per node per second, bytes read per node per second (every protocol, from the sockets), CPU per
 * node, RSS per node, connections per node. Each size's nodes are spread over worker processes
 * (`scale-procs.ts`: one event loop cannot carry 50 idle nodes); the floor is the same measurement
 * on a 2-node mesh in this process in the same run (and a libp2p ping round trip for latencies).
 * Per c (coordinators in this process), after a warm-up: runs/s sustained, run p50/p99, CPU per
 * run (and net of the idle floor), the CPU cores and main-thread share used, runs forwarded and
 * job hops that were RPCs, gossip messages per coordinator and run by topic, and replicas held
 * per coordinator, beside c = 1. `BENCH_SCALE=coordinators` runs the coordinator rows alone;
 * `BENCH_SCALE_WATCH=1` makes every coordinator follow the others' events;
 * `BENCH_SCALE_CLIENT_IDS=1` names each run with a random id as a mesh client does;
 * `BENCH_CPU_PROF=<dir>` profiles each row's run window.
 *
 * `BENCH_SCALE=quick` runs N = 20, 50 and c = 1, 3 (a couple of minutes on an idle machine);
 * `BENCH_SCALE=50,200` picks sizes, `BENCH_SCALE_C=1,3` coordinator counts, `BENCH_SCALE_PROCS=4`
 * the worker processes per size. Writes an SVG plot of cost against N to `BENCH_SCALE_SVG` (default
 * scripts/bench/results/scale.svg). A size that does not fit is skipped with the reason, from what
 * the sizes before it measured (`scale-fit.ts`): file descriptors per process (about 40 per node;
 * raise the limit with `ulimit -n 65536`, as root), memory against RAM, and idle CPU against the
 * cores (`BENCH_SCALE_FORCE=200` runs N = 200 anyway).
 */
import '../../src/node/polyfills.js'
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg, availableParallelism as nproc } from 'node:os'
import { dirname } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createLogger } from '../../src/core/logger.js'
import { resolveConfig } from '../../src/node/config/load.js'
import type { Role } from '../../src/node/config/types.js'
import { generateIdentity } from '../../src/node/identity.js'
import { createNode, type HorusNode } from '../../src/node/node.js'
import { attachRoles, type NodeRoles } from '../../src/node/roles.js'
import { EVENTS_TOPIC } from '../../src/protocols/events/index.js'
import {
  DEFAULT_FAST_MESH_NODES,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_PRESENCE_BUDGET_PER_SECOND,
  MAX_HEARTBEAT_INTERVAL_MS,
} from '../../src/protocols/liveness/constants.js'
import { heartbeatInterval } from '../../src/protocols/liveness/interval.js'
import { STATE_TOPIC } from '../../src/protocols/state/sync/index.js'
import type { CoordinatorService, RunView } from '../../src/roles/coordinator/index.js'
import { DEFAULT_REPLICAS } from '../../src/roles/coordinator/service/constants.js'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import { GossipCounts } from './gossip-counts.js'
import { whyNotFit } from './scale-fit.js'
import { renderScalePlot } from './scale-plot.js'
import { measureSpreadMesh, workerCount } from './scale-procs.js'
import { type Counts, countsDelta, formatCounts, StreamCounts } from './stream-counts.js'
import { type BenchTable, elapsedMs, percentile } from './table.js'
import { profileWindow } from './window-profile.js'
import { chainWorkflow } from './workflow.js'

const MODE = process.env.BENCH_SCALE ?? 'full'
const QUICK = MODE === 'quick'
/** `BENCH_SCALE=coordinators`: the coordinator rows alone (no mesh sizes, no floor, no plot). */
const COORDINATORS_ONLY = MODE === 'coordinators'
const SIZES = COORDINATORS_ONLY
  ? []
  : QUICK
    ? [20, 50]
    : /^[\d,]+$/.test(MODE)
      ? MODE.split(',').map(Number)
      : [50, 200, 1_000]
const COORDINATORS = process.env.BENCH_SCALE_C?.split(',').map(Number) ?? (QUICK ? [1, 3] : [1, 3, 10, 30])
export const START_CONCURRENCY = 8
/** The whole benchmark's time budget: a size that would not fit in what is left is skipped. */
const BUDGET_MS = Number(process.env.BENCH_SCALE_BUDGET_S ?? (QUICK ? 300 : 840)) * 1000
export const JOIN_DEADLINE_MS = 60_000
export const VIEW_DEADLINE_MS = QUICK ? 60_000 : 150_000
export const IDLE_WINDOW_MS = QUICK ? 5_000 : 10_000

/**
 * The idle window for a mesh of `n` nodes: at least one heartbeat interval (n s beyond 10 nodes, at
 * most 30 s), so every node heartbeats once inside it. Shorter, a window would catch a burst of
 * heartbeats or none (nodes started together beat in phase) and the idle figures would swing.
 */
export function idleWindowMs(n: number): number {
  const interval = heartbeatInterval({
    peers: n - 1,
    budgetPerSecond: DEFAULT_PRESENCE_BUDGET_PER_SECOND,
    fastMeshNodes: DEFAULT_FAST_MESH_NODES,
    minMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    maxMs: MAX_HEARTBEAT_INTERVAL_MS,
  })
  return Math.max(IDLE_WINDOW_MS, interval)
}
const GOSSIP_MESSAGES = 20
/** All gossip messages of one size together, so a lossy mesh cannot stall the run (20 x 10 s). */
const GOSSIP_DEADLINE_MS = 60_000
/** gossipsub's Dlo: a node with fewer mesh peers grafts more at its next heartbeat. */
const GOSSIP_MESH_READY = 4
const GOSSIP_MESH_DEADLINE_MS = 30_000
export const DHT_DEADLINE_MS = 60_000
const PING_TIMEOUT_MS = 5_000
/** How long one batch of 50 nodes may take to stop before the bench moves on. */
export const STOP_BATCH_MS = 30_000
const RUN_WINDOW_MS = QUICK ? 8_000 : 15_000
const RUNS_IN_FLIGHT_PER_COORDINATOR = 4
/**
 * `BENCH_SCALE_WATCH=1`: every coordinator follows the other coordinators' events (as it does
 * while a dashboard or `horus events` is subscribed to it), so they are published; by default
 * nobody follows and none are.
 */
const WATCH_EVENTS = process.env.BENCH_SCALE_WATCH === '1'
/**
 * `BENCH_SCALE_CLIENT_IDS=1`: each submission names its run with a random id, as a client over the
 * mesh does (the id is in its signed submission); by default the coordinator names the run, inside
 * its own replica set.
 */
const CLIENT_IDS = process.env.BENCH_SCALE_CLIENT_IDS === '1'
const submitOptions = (): { runId?: string } => (CLIENT_IDS ? { runId: randomUUID() } : {})
/** Time kept for each coordinator row (start, all hear all, the run window, stop) on a quiet machine. */
const COORDINATOR_ROW_MS = QUICK ? 30_000 : 60_000
/** Idle window after a coordinator row's runs, for the background CPU rate. */
const COORDINATOR_IDLE_MS = 5_000
/**
 * Runs before a coordinator row's window, not counted: the c nodes' start-up work (DHT, identify,
 * the gossip mesh, sessions between coordinators and to supervisors and runners) is done by then.
 */
const COORDINATOR_WARMUP_MS = QUICK ? 3_000 : 5_000

export interface ScaleRow {
  n: number
  /** Processes the nodes were spread over (1: all in one). */
  procs: number
  /** RSS of one of those processes before it hosted any node (MiB): each process's fixed cost. */
  procBaseMiB: number
  /** Nodes that heard no peer within JOIN_DEADLINE_MS of their start. */
  notJoined: number
  /** Wall time to create and start all N nodes (s). */
  startAllS: number
  joinP50Ms: number
  joinP99Ms: number
  /** Seconds after the last start until every node heard every other; undefined if not by the deadline. */
  fullViewS: number | undefined
  /** Mean share of the mesh in a node's view at the end. */
  viewPct: number
  gossipP50Ms: number
  gossipP99Ms: number
  gossipMissing: number
  provideMs: number
  findMs: number
  findQueried: number
  /** Hops from the seeker to the peer that returned the provider (see dht()). */
  findHops: number
  /** File descriptors this process holds per node once all are started (sockets, LevelDB files). */
  fdsPerNode: number
  heartbeatsPerNodeS: number
  bytesPerNodeS: number
  cpuMsPerNodeS: number
  rssMiBPerNode: number
  connsMean: number
  connsMax: number
}

function fdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))
  const soft = Number(line?.split(/\s+/)[3])
  return Number.isFinite(soft) ? soft : 1024
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/** Bytes read so far by every TCP socket of this process that is still open. */
export function socketBytesRead(): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
  let total = 0
  for (const h of handles) {
    const bytes = (h as { bytesRead?: unknown }).bytesRead
    if (typeof bytes === 'number') total += bytes
  }
  return total
}

export async function identities(mesh: TestMesh, n: number): Promise<{ dirs: string[]; trust: unknown }> {
  const dirs: string[] = []
  const keys: string[] = []
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const dir = await mesh.tempDir('horus-bench-scale-')
        return { dir, key: (await generateIdentity(dir)).identity.peerId.toString() }
      }),
    )
    for (const { dir, key } of batch) {
      dirs.push(dir)
      keys.push(key)
    }
  }
  const roles = ['client', 'coordinator', 'supervisor', 'runner']
  return { dirs, trust: { keys: keys.map((key) => ({ key, roles, capabilities: ['*'] })) } }
}

interface Started {
  nodes: HorusNode[]
  joinMs: number[]
  notJoined: number
  lastStartAt: number
}

/**
 * Creates and starts bench node `index`. `joined` (for a node with a bootstrap list) resolves to the
 * ms from its start until it heard a peer, or undefined if it heard none within JOIN_DEADLINE_MS.
 */
export async function startBenchNode(
  index: number,
  dir: string,
  bootstrap: string[],
  trust: unknown,
): Promise<{ node: HorusNode; joined: Promise<number | undefined> }> {
  const config = resolveConfig({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, trust })
  const t = process.hrtime.bigint()
  const node = await createNode(config, { logger: createLogger(`scale-${index}`) })
  const joined = waitFor(() => node.liveness.alive().length > 0, {
    what: `node ${index} to hear a peer`,
    timeoutMs: JOIN_DEADLINE_MS,
    intervalMs: 10,
  }).then(
    () => elapsedMs(t),
    () => undefined,
  )
  return { node, joined }
}

async function startNodes(n: number, dirs: string[], trust: unknown, nodes: HorusNode[]): Promise<Started> {
  const joinMs: number[] = []
  let notJoined = 0
  const joins: Promise<void>[] = []
  /** Starts node i; its join (first heartbeat heard) is awaited in the background, not before the next start. */
  const startOne = async (i: number, bootstrap: string[]): Promise<void> => {
    const { node, joined } = await startBenchNode(i, dirs[i] as string, bootstrap, trust)
    nodes.push(node)
    if (bootstrap.length === 0) return
    joins.push(
      joined.then((ms) => {
        if (ms === undefined) notJoined++
        else joinMs.push(ms)
      }),
    )
  }
  await startOne(0, [])
  const seeds = [nodes[0]?.multiaddrs()[0] as string]
  // Three seed nodes, as a real mesh has a few bootstrap nodes; every later node names two of them.
  for (let i = 1; i < Math.min(3, n); i++) {
    await startOne(i, seeds)
    await joins.at(-1)
    seeds.push(nodes[i]?.multiaddrs()[0] as string)
  }
  for (let i = 3; i < n; i += START_CONCURRENCY) {
    await Promise.all(
      Array.from({ length: Math.min(START_CONCURRENCY, n - i) }, (_, j) =>
        startOne(i + j, [
          seeds[(i + j) % seeds.length] as string,
          seeds[(i + j + 1) % seeds.length] as string,
        ]),
      ),
    )
  }
  const lastStartAt = Date.now()
  await Promise.all(joins)
  return { nodes, joinMs, notJoined, lastStartAt }
}

async function waitForViews(nodes: HorusNode[], since: number): Promise<{ fullViewS: number | undefined }> {
  const want = nodes.length - 1
  try {
    await waitFor(() => nodes.every((node) => node.liveness.alive().length >= want), {
      what: 'every node to hear every other',
      timeoutMs: VIEW_DEADLINE_MS,
      intervalMs: 250,
    })
    return { fullViewS: (Date.now() - since) / 1000 }
  } catch {
    return { fullViewS: undefined }
  }
}

function viewShare(nodes: HorusNode[]): number {
  const want = nodes.length - 1
  const sum = nodes.reduce((acc, node) => acc + Math.min(want, node.liveness.alive().length), 0)
  return want === 0 ? 100 : (100 * sum) / (want * nodes.length)
}

export const BENCH_TOPIC = 'horus/bench/scale'

/**
 * Subscribes `node` to the bench topic, calling `onMessage` with each message's sequence number,
 * and keeps its mesh peers on the topic (from gossipsub's graft and prune events). `meshReady`:
 * the node has grafted gossipsub's low-water degree (or all its peers, if it has fewer).
 */
export function watchBenchTopic(node: HorusNode, onMessage: (seq: number) => void): { meshReady(): boolean } {
  const mesh = new Set<string>()
  const pubsub = node.libp2p.services.pubsub
  pubsub.addEventListener('gossipsub:graft', (evt) => {
    if (evt.detail.topic === BENCH_TOPIC) mesh.add(evt.detail.peerId)
  })
  pubsub.addEventListener('gossipsub:prune', (evt) => {
    if (evt.detail.topic === BENCH_TOPIC) mesh.delete(evt.detail.peerId)
  })
  pubsub.subscribe(BENCH_TOPIC)
  pubsub.addEventListener('message', (evt) => {
    if (evt.detail.topic !== BENCH_TOPIC) return
    onMessage(new DataView(evt.detail.data.buffer, evt.detail.data.byteOffset).getUint32(0))
  })
  return {
    meshReady: () => mesh.size >= Math.min(GOSSIP_MESH_READY, node.libp2p.getConnections().length),
  }
}

/** The bench topic's message number `seq`. */
export function benchMessage(seq: number): Uint8Array {
  const data = new Uint8Array(64)
  new DataView(data.buffer).setUint32(0, seq)
  return data
}

/** A mesh's gossip as the measurement sees it: its nodes may live in this process or in others. */
export interface GossipProbe {
  /** How many nodes' meshes on the bench topic are not ready yet (see watchBenchTopic). */
  notReady(): Promise<number>
  /** Publishes message `seq` from the publisher; resolves to its send time, on the arrivals' clock. */
  publish(seq: number): Promise<number>
  /** Arrival times of message `seq` so far (empty until it is published). */
  arrivals(seq: number): number[]
}

/**
 * GOSSIP_MESSAGES messages from one node, each awaited at every other node (all within
 * GOSSIP_DEADLINE_MS), once every node's mesh on the topic is ready or GOSSIP_MESH_DEADLINE_MS passed.
 */
export async function gossipOver(
  n: number,
  probe: GossipProbe,
): Promise<{ latencies: number[]; missing: number }> {
  // Subscriptions spread and the topic's mesh forms over a few gossipsub heartbeats.
  const t = Date.now()
  await waitFor(async () => (await probe.notReady()) === 0, {
    what: 'the gossip mesh of the bench topic',
    timeoutMs: GOSSIP_MESH_DEADLINE_MS,
    intervalMs: 100,
  }).catch(() => undefined)
  const notReady = await probe.notReady()
  progress(
    n,
    `gossip mesh ${notReady === 0 ? 'formed' : `incomplete at ${notReady} node(s)`} after ${Date.now() - t} ms`,
  )
  const latencies: number[] = []
  let missing = 0
  const deadline = Date.now() + GOSSIP_DEADLINE_MS
  for (let seq = 0; seq < GOSSIP_MESSAGES; seq++) {
    // Past the deadline the messages not sent count as lost everywhere.
    if (Date.now() > deadline) {
      missing += (GOSSIP_MESSAGES - seq) * (n - 1)
      break
    }
    const sent = await probe.publish(seq)
    await waitFor(() => probe.arrivals(seq).length >= n - 1, {
      what: `message ${seq} everywhere`,
      timeoutMs: Math.max(1, Math.min(10_000, deadline - Date.now())),
      intervalMs: 2,
    }).catch(() => undefined)
    const got = probe.arrivals(seq)
    missing += n - 1 - got.length
    latencies.push(...got.map((at) => at - sent))
  }
  return { latencies, missing }
}

async function gossip(nodes: HorusNode[]): Promise<{ latencies: number[]; missing: number }> {
  const arrivals = new Map<number, number[]>()
  const watches = nodes.map((node) =>
    watchBenchTopic(node, (seq) => arrivals.get(seq)?.push(performance.now())),
  )
  const publisher = nodes[Math.floor(nodes.length / 3)] as HorusNode
  try {
    return await gossipOver(nodes.length, {
      notReady: async () => watches.filter((w) => !w.meshReady()).length,
      publish: async (seq) => {
        arrivals.set(seq, [])
        const sent = performance.now()
        await publisher.libp2p.services.pubsub.publish(BENCH_TOPIC, benchMessage(seq))
        return sent
      },
      arrivals: (seq) => arrivals.get(seq) ?? [],
    })
  } finally {
    for (const node of nodes) node.libp2p.services.pubsub.unsubscribe(BENCH_TOPIC)
  }
}

/**
 * A provide from one node and a find from another. The find counts the peers that answered and the
 * hops to the answer: a peer from the seeker's own routing table is 1 hop, a peer named in the
 * answer of an n-hop peer is n + 1, and the hops are those of the peer that returned the provider
 * (0 when the seeker held the record itself). Kademlia promises O(log N) hops.
 */
async function dht(
  nodes: HorusNode[],
): Promise<{ provideMs: number; findMs: number; queried: number; hops: number }> {
  const provider = nodes[Math.floor(nodes.length / 2)] as HorusNode
  const seeker = nodes.at(-1) as HorusNode
  const cid = await benchCid(nodes.length)
  const provideMs = await provideRecord(provider, cid)
  return { provideMs, ...(await findProvider(seeker, cid, provider.libp2p.peerId.toString())) }
}

/** A fresh content id for one size's DHT step. */
export async function benchCid(n: number): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`horus/bench/scale-${Date.now()}-${n}`))
  return CID.createV1(0x55, digest)
}

/** Ms for `provider` to provide `cid`; NaN when the query does not finish within its deadline. */
export async function provideRecord(provider: HorusNode, cid: CID): Promise<number> {
  const t = process.hrtime.bigint()
  try {
    await provider.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(DHT_DEADLINE_MS) })
    return elapsedMs(t)
  } catch {
    return Number.NaN
  }
}

/**
 * `seeker` looks for the providers of `cid` until it meets `provider` (a peer id); a find that
 * does not finish within its deadline has NaN time and hops (reported as "–").
 */
export async function findProvider(
  seeker: HorusNode,
  cid: CID,
  provider: string,
): Promise<{ findMs: number; queried: number; hops: number }> {
  const t = process.hrtime.bigint()
  let queried = 0
  let hops = Number.NaN
  let findMs = Number.NaN
  const depth = new Map<string, number>()
  const isProvider = (peers: { id: PeerId }[]): boolean => peers.some((p) => p.id.toString() === provider)
  try {
    for await (const event of seeker.libp2p.services.dht.findProviders(cid, {
      signal: AbortSignal.timeout(DHT_DEADLINE_MS),
    })) {
      if (
        event.name === 'PROVIDER' &&
        event.from.equals(seeker.libp2p.peerId) &&
        isProvider(event.providers)
      ) {
        hops = 0
        findMs = elapsedMs(t)
        break
      }
      if (event.name !== 'PEER_RESPONSE') continue
      queried++
      const hop = depth.get(event.from.toString()) ?? 1
      for (const peer of event.closer)
        if (!depth.has(peer.id.toString())) depth.set(peer.id.toString(), hop + 1)
      if (isProvider(event.providers)) {
        hops = hop
        findMs = elapsedMs(t)
        break
      }
    }
  } catch {}
  return { findMs, queried, hops }
}

async function idle(
  nodes: HorusNode[],
): Promise<Pick<ScaleRow, 'heartbeatsPerNodeS' | 'bytesPerNodeS' | 'cpuMsPerNodeS'>> {
  const accepted = (): number => nodes.reduce((acc, node) => acc + node.liveness.stats().accepted, 0)
  const hb0 = accepted()
  const bytes0 = socketBytesRead()
  const counters = nodes.map((node) => new StreamCounts(node))
  const opened0 = counters.map((s) => s.snapshot())
  const cpu0 = process.cpuUsage()
  const t = process.hrtime.bigint()
  await new Promise((r) => setTimeout(r, idleWindowMs(nodes.length)))
  const seconds = elapsedMs(t) / 1000
  const cpu = process.cpuUsage(cpu0)
  const opened = openedBetween(
    opened0,
    counters.map((s) => s.snapshot()),
    nodes.length * seconds,
  )
  progress(
    nodes.length,
    `idle, per node per s: streams ${formatCounts(opened.streams)}; connections ${opened.connections.toFixed(2)}; datastore ${formatCounts(opened.datastore)}`,
  )
  return {
    heartbeatsPerNodeS: (accepted() - hb0) / nodes.length / seconds,
    bytesPerNodeS: Math.max(0, socketBytesRead() - bytes0) / nodes.length / seconds,
    cpuMsPerNodeS: (cpu.user + cpu.system) / 1000 / nodes.length / seconds,
  }
}

/** True when `work` settles within `ms` (its failure counts as settled); false when it is late. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

async function pingFloor(nodes: HorusNode[]): Promise<number> {
  const [a, b] = nodes as [HorusNode, HorusNode]
  const rtts: number[] = []
  let failedInARow = 0
  // Three failures in a row end it: a starved mesh would otherwise cost 30 × the timeout.
  for (let i = 0; i < 30 && failedInARow < 3; i++) {
    const start = performance.now()
    try {
      await a.libp2p.services.ping.ping(b.libp2p.peerId, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) })
    } catch {
      // A ping that fails or times out (a starved mesh) is left out, not waited on or thrown.
      failedInARow++
      continue
    }
    failedInARow = 0
    rtts.push(performance.now() - start)
  }
  return rtts.length === 0 ? Number.NaN : percentile(rtts, 50)
}

const benchStart = Date.now()

/** One line on stderr per phase: a run of many minutes shows where it is. */
export function progress(n: number, what: string): void {
  process.stderr.write(`scale: [${((Date.now() - benchStart) / 1000).toFixed(0)} s, N = ${n}] ${what}\n`)
}

async function measureMesh(n: number): Promise<{ row: ScaleRow; pingMs: number }> {
  const mesh = new TestMesh()
  const nodes: HorusNode[] = []
  try {
    const { dirs, trust } = await identities(mesh, n)
    global.gc?.()
    const rss0 = process.memoryUsage().rss
    const fds0 = openFds()
    const t0 = Date.now()
    const started = await startNodes(n, dirs, trust, nodes)
    const startAllS = (started.lastStartAt - t0) / 1000
    progress(n, `${n} nodes started in ${startAllS.toFixed(1)} s (${started.notJoined} heard no peer)`)
    const { fullViewS } = await waitForViews(nodes, started.lastStartAt)
    progress(n, fullViewS === undefined ? 'views incomplete at the deadline' : `every node hears every other`)
    const rssMiBPerNode = (process.memoryUsage().rss - rss0) / n / 1024 / 1024
    const fdsPerNode = (openFds() - fds0) / n
    const idleCost = await idle(nodes)
    const conns = nodes.map((node) => node.libp2p.getConnections().length)
    const viewPct = viewShare(nodes)
    progress(
      n,
      `idle: ${idleCost.heartbeatsPerNodeS.toFixed(1)} heartbeats, ${(idleCost.bytesPerNodeS / 1024).toFixed(1)} KiB, ${idleCost.cpuMsPerNodeS.toFixed(1)} ms CPU per node per second; ${(conns.reduce((a, b) => a + b, 0) / n).toFixed(1)} connections per node (max ${Math.max(...conns)}); views ${viewPct.toFixed(1)} % of the mesh`,
    )
    const gossiped = await gossip(nodes)
    progress(n, `gossip: ${gossiped.latencies.length} deliveries, ${gossiped.missing} missing`)
    const found = await dht(nodes)
    progress(n, `DHT: provide ${found.provideMs.toFixed(0)} ms, find ${found.findMs.toFixed(0)} ms`)
    const pingMs = await pingFloor(nodes)
    const joinMs = started.joinMs.length > 0 ? started.joinMs : [0]
    return {
      pingMs,
      row: {
        n,
        procs: 1,
        procBaseMiB: rss0 / 1024 / 1024,
        notJoined: started.notJoined,
        startAllS,
        joinP50Ms: percentile(joinMs, 50),
        joinP99Ms: percentile(joinMs, 99),
        fullViewS,
        viewPct,
        gossipP50Ms: percentile(gossiped.latencies, 50),
        gossipP99Ms: percentile(gossiped.latencies, 99),
        gossipMissing: gossiped.missing,
        provideMs: found.provideMs,
        findMs: found.findMs,
        findQueried: found.queried,
        findHops: found.hops,
        fdsPerNode,
        ...idleCost,
        rssMiBPerNode,
        connsMean: conns.reduce((a, b) => a + b, 0) / n,
        connsMax: Math.max(...conns),
      },
    }
  } finally {
    // Stop in parallel batches: one at a time takes minutes at N = 1,000. A starved batch may
    // not finish stopping: each is given STOP_BATCH_MS, then the size moves on (said on stderr).
    for (let i = 0; i < nodes.length; i += 50) {
      const batch = Promise.allSettled(nodes.slice(i, i + 50).map((node) => node.stop()))
      if (!(await within(batch, STOP_BATCH_MS)))
        progress(n, `nodes ${i}–${i + 49} still stopping after ${STOP_BATCH_MS / 1000} s; moving on`)
    }
    if (!(await within(mesh.cleanup(), STOP_BATCH_MS)))
      progress(n, `data directories not removed after ${STOP_BATCH_MS / 1000} s; moving on`)
  }
}

const NOOP_RUNNER = { runner: { builtins: false, concurrency: 16, kinds: { noop: async () => null } } }

export interface CoordinatorRow {
  c: number
  runs: number
  runsPerS: number
  runP50Ms: number
  replicasMean: number
  replicasMax: number
  /** This process's CPU (every node) per completed run. */
  cpuMsPerRun: number
  /** This process's CPU rate with the c nodes idle, just after the runs. */
  idleCpuMsPerS: number
  /** `cpuMsPerRun` less the idle rate over the window. */
  netCpuMsPerRun: number
  runP99Ms: number
  /** Runs submitted at a coordinator outside their replica set (handed off to it). */
  forwarded: number
  /** Per completed run: coordinator → supervisor and supervisor → runner hops that were RPCs. */
  remoteHopsPerRun: number
  /** Job hops per completed run (two per step). */
  hopsPerRun: number
  /** CPU-seconds per wall-second over the window: every node is in this one process. */
  cpuCores: number
  /** Share of the window the main thread's event loop was busy (performance.eventLoopUtilization). */
  eventLoopBusy: number
  /** Runs completed in the warm-up before the window (not counted). */
  warmupRuns: number
  /** Per topic, per coordinator and completed run: published, copies received, signatures verified. */
  gossip: { topic: string; published: number; received: number; verified: number }[]
  /** The other topics together (liveness, job topics), per coordinator and completed run. */
  otherGossip: { published: number; received: number }
  /** Streams (by protocol), outbound connections and datastore operations, all nodes, per completed run. */
  opened: OpenedCounts
  /** The same over the idle window, per node per second. */
  openedIdle: OpenedCounts
}

interface OpenedCounts {
  streams: [string, number][]
  connections: number
  datastore: [string, number][]
  /** `BENCH_SCALE_CALLERS=1`: RPC streams by the first Horus frame that opened them. */
  callers: [string, number][]
}

/** Stream, connection and datastore counts of every node between two snapshots, divided by `per`. */
function openedBetween(
  before: ReturnType<StreamCounts['snapshot']>[],
  after: ReturnType<StreamCounts['snapshot']>[],
  per: number,
): OpenedCounts {
  const of = (pick: (s: ReturnType<StreamCounts['snapshot']>) => Counts): [string, number][] =>
    countsDelta(before.map(pick), after.map(pick), per)
  const connections = after.reduce((acc, s, i) => acc + s.connections - (before[i]?.connections ?? 0), 0)
  return {
    streams: of((s) => s.streams),
    connections: connections / per,
    datastore: of((s) => s.datastore),
    callers: of((s) => s.callers),
  }
}

/** What a coordinator's topic validators saw: every message that got to one had its signature verified. */
function verifiedByTopic(coordinator: CoordinatorService): Map<string, number> {
  const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0)
  return new Map(
    coordinator.stats().topics.map((t) => [t.topic, t.accepted + sum(t.rejected) + sum(t.ignored)]),
  )
}

/** c nodes, each coordinator + supervisor + runner: capacity grows with c, as in a real mesh. */
async function measureCoordinators(c: number): Promise<CoordinatorRow> {
  const mesh = new TestMesh()
  const members: { node: HorusNode; roles: NodeRoles }[] = []
  try {
    const { dirs, trust } = await identities(mesh, c)
    const roles: Role[] = ['coordinator', 'supervisor', 'runner']
    const start = async (i: number, bootstrap: string[]): Promise<void> => {
      const config = resolveConfig({
        dataDir: dirs[i],
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap,
        roles,
        trust,
      })
      const node = await createNode(config, { logger: createLogger(`scale-c${i}`) })
      const attached = attachRoles(node, {
        ...NOOP_RUNNER,
        coordinator: { runnerKinds: ['noop'], runConcurrency: 1_000 },
      })
      await attached.start()
      members.push({ node, roles: attached })
    }
    await start(0, [])
    const seed = members[0]?.node.multiaddrs()[0] as string
    for (let i = 1; i < c; i += START_CONCURRENCY)
      await Promise.all(
        Array.from({ length: Math.min(START_CONCURRENCY, c - i) }, (_, j) => start(i + j, [seed])),
      )
    await waitFor(
      () =>
        members.every(
          (m) => m.node.liveness.alive().filter((p) => p.roles.includes('coordinator')).length >= c - 1,
        ),
      { what: 'every coordinator to hear the others', timeoutMs: 120_000 },
    )
    const coordinators = members.map((m) => m.roles.coordinator as CoordinatorService)
    if (WATCH_EVENTS) {
      for (const co of coordinators) co.followPeerEvents()
      // Each must see the others subscribed, or the first runs' events would not be published.
      await waitFor(
        () =>
          members.every((m) => m.node.libp2p.services.pubsub.getSubscribers(EVENTS_TOPIC).length >= c - 1),
        { what: 'every coordinator to see the others follow events', timeoutMs: 30_000 },
      )
    }
    /** RUNS_IN_FLIGHT_PER_COORDINATOR loops per coordinator, each submitting a run once the last ended. */
    const drive = (
      until: number,
      onRun: (co: CoordinatorService, runId: string, view: RunView, ms: number) => void,
    ) =>
      Promise.all(
        coordinators.flatMap((co) =>
          Array.from({ length: RUNS_IN_FLIGHT_PER_COORDINATOR }, async () => {
            while (Date.now() < until) {
              const begin = process.hrtime.bigint()
              const runId = await co.submit(chainWorkflow(3), {}, submitOptions())
              const view = await co.waitForCompletion(runId, 120_000)
              if (view.status !== 'completed') throw new Error(`bench run ${runId} ended ${view.status}`)
              onRun(co, runId, view, elapsedMs(begin))
            }
          }),
        ),
      )
    // The same load as the window, not counted: start-up work is over before the window begins.
    let warmupRuns = 0
    await drive(Date.now() + COORDINATOR_WARMUP_MS, () => {
      warmupRuns++
    })
    const counters = members.map((m) => new GossipCounts(m.node.libp2p.services.pubsub))
    const streamCounters = members.map(
      (m) => new StreamCounts(m.node, { callers: process.env.BENCH_SCALE_CALLERS === '1' }),
    )
    const openedBefore = streamCounters.map((s) => s.snapshot())
    const durations: number[] = []
    let completed = 0
    const sentBefore = counters.map((g) => g.snapshot())
    const verifiedBefore = coordinators.map(verifiedByTopic)
    const stopProfile = await profileWindow(process.env.BENCH_CPU_PROF, `scale-c${c}`)
    const cpuBefore = process.cpuUsage()
    const eluBefore = performance.eventLoopUtilization()
    const deadline = Date.now() + RUN_WINDOW_MS
    const t = process.hrtime.bigint()
    const handedOffDurations: number[] = []
    let hops = 0
    let remoteHops = 0
    await drive(deadline, (co, runId, view, ms) => {
      // A hop is remote when its two ends are different nodes (each node has all three roles).
      for (const step of view.steps) {
        hops += 2
        if (step.supervisor !== view.owner) remoteHops++
        if (step.runnerPeer !== step.supervisor) remoteHops++
      }
      durations.push(ms)
      // Submitted at a coordinator outside the run's replica set: handed off to a member.
      if (co.forwardsRun(runId)) handedOffDurations.push(ms)
      completed++
    })
    const seconds = elapsedMs(t) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const elu = performance.eventLoopUtilization(eluBefore)
    await stopProfile()
    const openedAfter = streamCounters.map((s) => s.snapshot())
    if (handedOffDurations.length > 0)
      process.stderr.write(
        `scale: c = ${c}: ${handedOffDurations.length} of ${completed} runs submitted outside their replica set, p50 ${percentile(handedOffDurations, 50).toFixed(0)} ms (all runs ${percentile(durations, 50).toFixed(0)} ms)\n`,
      )
    // The c nodes' background once the runs are done (heartbeats, anti-entropy rounds over the
    // runs they hold): on a loaded host few runs finish in the window, and this share would
    // otherwise swell the CPU per run. (Right after start it is not steady: DHT and identify.)
    const idleBefore = process.cpuUsage()
    const idleT = process.hrtime.bigint()
    await new Promise((r) => setTimeout(r, COORDINATOR_IDLE_MS))
    const idleUsage = process.cpuUsage(idleBefore)
    const idleS = elapsedMs(idleT) / 1000
    const idleCpuMsPerS = (idleUsage.user + idleUsage.system) / 1000 / idleS
    const openedIdle = openedBetween(
      openedAfter,
      streamCounters.map((s) => s.snapshot()),
      c * idleS,
    )
    const replicas = coordinators.map((co) => co.engine.runs.size)
    const perRun = c * Math.max(1, completed)
    // Every other topic together (liveness, job topics): no validator count of ours to read there.
    const otherTopics = new Set(
      counters
        .flatMap((g) => [...g.snapshot().keys()])
        .filter((t) => t !== STATE_TOPIC && t !== EVENTS_TOPIC),
    )
    const other = { published: 0, received: 0 }
    counters.forEach((g, i) => {
      for (const topic of otherTopics) {
        other.published += g.of(topic).published - (sentBefore[i]?.get(topic)?.published ?? 0)
        other.received += g.of(topic).received - (sentBefore[i]?.get(topic)?.received ?? 0)
      }
    })
    const gossip = [STATE_TOPIC, EVENTS_TOPIC].map((topic) => {
      let published = 0
      let received = 0
      let verified = 0
      counters.forEach((g, i) => {
        const before = sentBefore[i]?.get(topic)
        published += g.of(topic).published - (before?.published ?? 0)
        received += g.of(topic).received - (before?.received ?? 0)
      })
      coordinators.forEach((co, i) => {
        verified += (verifiedByTopic(co).get(topic) ?? 0) - (verifiedBefore[i]?.get(topic) ?? 0)
      })
      return {
        topic,
        published: published / perRun,
        received: received / perRun,
        verified: verified / perRun,
      }
    })
    return {
      c,
      runs: completed,
      runsPerS: completed / seconds,
      runP50Ms: percentile(durations, 50),
      replicasMean: replicas.reduce((a, b) => a + b, 0) / c,
      replicasMax: Math.max(...replicas),
      cpuMsPerRun: (cpu.user + cpu.system) / 1000 / Math.max(1, completed),
      idleCpuMsPerS,
      netCpuMsPerRun: ((cpu.user + cpu.system) / 1000 - idleCpuMsPerS * seconds) / Math.max(1, completed),
      runP99Ms: percentile(durations, 99),
      forwarded: handedOffDurations.length,
      remoteHopsPerRun: remoteHops / Math.max(1, completed),
      hopsPerRun: hops / Math.max(1, completed),
      cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
      eventLoopBusy: elu.utilization,
      warmupRuns,
      gossip,
      otherGossip: { published: other.published / perRun, received: other.received / perRun },
      opened: openedBetween(openedBefore, openedAfter, Math.max(1, completed)),
      openedIdle,
    }
  } finally {
    await Promise.allSettled(members.map(async (m) => m.roles.stop()))
    await Promise.allSettled(members.map(async (m) => m.node.stop()))
    await mesh.cleanup()
  }
}

function meshTable(
  rows: ScaleRow[],
  floor: ScaleRow,
  pingMs: number,
  skipped: string[],
  loadAtStart: number[],
): BenchTable {
  const cells = (r: ScaleRow, name: string): (string | number)[] => [
    name,
    r.startAllS,
    `${r.joinP50Ms.toFixed(0)} / ${r.joinP99Ms.toFixed(0)}${r.notJoined > 0 ? ` (${r.notJoined} not in ${JOIN_DEADLINE_MS / 1000} s)` : ''}`,
    r.fullViewS === undefined ? `no (${r.viewPct.toFixed(1)} %)` : r.fullViewS,
    `${r.gossipP50Ms.toFixed(1)} / ${r.gossipP99Ms.toFixed(1)}${r.gossipMissing > 0 ? ` (${r.gossipMissing} lost)` : ''}`,
    `${r.provideMs.toFixed(0)} / ${r.findMs.toFixed(0)} (${r.findQueried}, ${Number.isNaN(r.findHops) ? '–' : r.findHops}; log2 N ${Math.log2(r.n).toFixed(1)})`,
    r.heartbeatsPerNodeS,
    r.bytesPerNodeS / 1024,
    r.cpuMsPerNodeS,
    r.rssMiBPerNode,
    `${r.connsMean.toFixed(1)} / ${r.connsMax}`,
  ]
  return {
    title:
      'Mesh at scale (nodes spread over worker processes, loopback TCP; idle figures over a quiet window)',
    columns: [
      'nodes (processes)',
      'start all s',
      'join p50 / p99 ms',
      'all hear all after s',
      'gossip p50 / p99 ms',
      'DHT provide / find ms (peers queried, hops; log2 N)',
      'heartbeats in /node/s',
      'KiB in /node/s',
      'CPU ms /node/s',
      'RSS MiB /node',
      'connections /node mean / max',
    ],
    rows: [
      cells(floor, `${floor.n} (floor, in-process)`),
      ...rows.map((r) => cells(r, `${r.n} (${r.procs})`)),
    ],
    note: [
      `Floor: the same figures for a 2-node mesh in the bench's own process in the same run; libp2p ping round trip p50 ${pingMs.toFixed(2)} ms. Each size N runs in P worker processes (node i in worker i mod P; BENCH_SCALE_PROCS, default max(cores, N / 25)): counters are summed over the workers, CPU and RSS are the workers' own (RSS net of each worker's ${rows.map((r) => r.procBaseMiB.toFixed(0)).join(' / ') || '–'} MiB before it hosted a node), gossip latency is on the host's wall clock. "KiB in" is every byte the node's sockets read (gossip, heartbeats, DHT, identify, ping).`,
      `Load average (1 / 5 / 15 min) at the start ${loads(loadAtStart)}, at the end ${loads(loadavg())}, on ${nproc()} cores, ${QUICK ? 'quick mode' : `BENCH_SCALE=${MODE}`}.`,
      ...skipped,
    ].join(' '),
  }
}

function coordinatorTable(rows: CoordinatorRow[], skipped: string[], loadAtStart: number[]): BenchTable {
  const base = rows.find((r) => r.c === 1)
  return {
    title:
      'Run throughput against coordinators (each node coordinator + supervisor + runner, 3-step no-op chains)',
    columns: [
      'coordinators',
      'runs',
      'runs/s',
      'x c = 1',
      'run p50 / p99 ms',
      'CPU ms per run (net of idle)',
      'idle CPU ms/s',
      'CPU cores used / main thread busy',
      'forwarded runs',
      'remote hops per run',
      'gossip per coordinator per run: published / copies in / verified',
      'replicas held per coordinator mean / max',
      'streams opened per run by protocol; connections dialled per run',
    ],
    rows: rows.map((r) => [
      r.c,
      r.runs,
      r.runsPerS,
      base === undefined ? '–' : r.runsPerS / base.runsPerS,
      `${r.runP50Ms.toFixed(0)} / ${r.runP99Ms.toFixed(0)}`,
      `${r.cpuMsPerRun.toFixed(1)} (${r.netCpuMsPerRun.toFixed(1)})`,
      r.idleCpuMsPerS,
      `${r.cpuCores.toFixed(2)} / ${(r.eventLoopBusy * 100).toFixed(0)} %`,
      `${r.forwarded} of ${r.runs}`,
      `${r.remoteHopsPerRun.toFixed(2)} of ${r.hopsPerRun.toFixed(0)}`,
      r.gossip
        .map(
          (g) =>
            `${g.topic.split('/').at(-1)} ${g.published.toFixed(1)} / ${g.received.toFixed(1)} / ${g.verified.toFixed(1)}`,
        )
        .concat(`other ${r.otherGossip.published.toFixed(1)} / ${r.otherGossip.received.toFixed(1)} / –`)
        .join('; '),
      `${r.replicasMean.toFixed(0)} / ${r.replicasMax}`,
      `${formatCounts(r.opened.streams.map(([p, n]) => [p.replace(/^\/(horus\/|ipfs\/|meshsub\/)?/, ''), n]))}; ${r.opened.connections.toFixed(2)}`,
    ]),
    note: [
      `Floor: c = 1 in the same run. ${RUNS_IN_FLIGHT_PER_COORDINATOR} runs in flight per coordinator for ${RUN_WINDOW_MS / 1000} s, after a ${COORDINATOR_WARMUP_MS / 1000} s warm-up of the same load (${rows.map((r) => r.warmupRuns).join(' / ')} runs, not counted); ${WATCH_EVENTS ? "every coordinator follows the others' events (BENCH_SCALE_WATCH=1)" : "no coordinator follows the others' events"}; ${CLIENT_IDS ? 'each run named by its submitter with a random id, as a client over the mesh does (BENCH_SCALE_CLIENT_IDS=1)' : 'each run named by the coordinator it was submitted at (inside its replica set)'}. CPU: this process (every node), per completed run; in brackets, less the idle rate (measured over ${COORDINATOR_IDLE_MS / 1000} s just after) times the window: (busy CPU − idle floor) / runs. "CPU cores used": CPU-seconds of this process (it hosts all c nodes: the busiest and only one) per wall-second of the window; "main thread busy": its event loop's utilisation over the window (near 100 %: the row is bound by that one thread). Forwarded: submitted at a coordinator outside the run's replica set. Remote hops: coordinator → supervisor and supervisor → runner hops of a run's steps whose ends are different nodes. Gossip: per topic, summed over the nodes and divided by c and the runs; "verified" counts the messages that reached a topic validator (gossipsub verified their signature first), duplicate copies are dropped before.`,
      `Each run is replicated to min(${DEFAULT_REPLICAS}, c) coordinators (coordinator.replicas), so a coordinator holds about ${DEFAULT_REPLICAS}/c of the runs (all of them for c ≤ ${DEFAULT_REPLICAS}), counted at the end of the window (runs not yet handed off to their set included).`,
      `Load average (1 / 5 / 15 min) at the start ${loads(loadAtStart)}, at the end ${loads(loadavg())}, on ${nproc()} cores.`,
      ...skipped,
    ].join(' '),
  }
}

function loads(values: number[]): string {
  return values.map((l) => l.toFixed(1)).join(' / ')
}

export async function runScaleBench(): Promise<BenchTable[]> {
  const loadAtStart = loadavg()
  process.stderr.write(`scale: load average ${loads(loadAtStart)} on ${nproc()} cores\n`)
  const limit = fdLimit()
  const began = Date.now()
  const skipped: string[] = []
  const coordinatorSkipped: string[] = []
  const floor = COORDINATORS_ONLY ? undefined : await measureMesh(2)
  const rows: ScaleRow[] = []
  for (const n of SIZES) {
    const procs = workerCount(n)
    const tooBig = whyNotFit(n, procs, rows, limit)
    if (tooBig !== undefined) {
      skipped.push(tooBig)
      continue
    }
    // What the previous size took per node, times this size, plus the fixed waits, must fit.
    const last = rows.at(-1)
    const estimateMs = last === undefined ? 0 : (last.startAllS * 1000 * n) / last.n + VIEW_DEADLINE_MS
    // The coordinator rows come after the mesh sizes: their time is kept aside.
    const left = BUDGET_MS - (Date.now() - began) - COORDINATORS.length * COORDINATOR_ROW_MS
    if (estimateMs > left) {
      skipped.push(
        `N = ${n} skipped: starting it would take about ${Math.round(estimateMs / 1000)} s at the ${last?.startAllS.toFixed(0)} s the ${last?.n} nodes took (CPU-bound: every node's handshakes, DHT queries and gossip share the host's cores), more than the ${Math.round(left / 1000)} s left of the benchmark's budget.`,
      )
      continue
    }
    process.stderr.write(`scale: N = ${n} over ${procs} processes…\n`)
    try {
      const { row } = await measureSpreadMesh(n, procs)
      // Each size as it finishes, so a run cut short still leaves its figures.
      process.stderr.write(`scale: ${JSON.stringify(row)}\n`)
      rows.push(row)
    } catch (err) {
      // One size that fails (a deadline on a loaded machine) does not cost the others their figures.
      skipped.push(`N = ${n} failed: ${(err as Error).message}.`)
      process.stderr.write(`scale: N = ${n} failed: ${(err as Error).stack}\n`)
    }
  }
  const coordinatorRows: CoordinatorRow[] = []
  for (const c of COORDINATORS) {
    const left = BUDGET_MS - (Date.now() - began)
    if (left < COORDINATOR_ROW_MS) {
      coordinatorSkipped.push(
        `c = ${c} skipped: ${Math.round(left / 1000)} s left of the benchmark's budget (BENCH_SCALE_BUDGET_S), a row takes about ${COORDINATOR_ROW_MS / 1000} s.`,
      )
      continue
    }
    process.stderr.write(`scale: c = ${c}…\n`)
    try {
      const row = await measureCoordinators(c)
      process.stderr.write(`scale: ${JSON.stringify(row)}\n`)
      for (const [what, o] of [
        ['per run', row.opened],
        ['idle, per node per s', row.openedIdle],
      ] as const)
        process.stderr.write(
          `scale: c = ${c} ${what}: streams ${formatCounts(o.streams)}; connections ${o.connections.toFixed(2)}; datastore ${formatCounts(o.datastore)}${o.callers.length > 0 ? `; callers ${formatCounts(o.callers)}` : ''}\n`,
        )
      coordinatorRows.push(row)
    } catch (err) {
      coordinatorSkipped.push(`c = ${c} failed: ${(err as Error).message}.`)
      process.stderr.write(`scale: c = ${c} failed: ${(err as Error).stack}\n`)
    }
  }
  if (floor === undefined) return [coordinatorTable(coordinatorRows, coordinatorSkipped, loadAtStart)]
  const svg = process.env.BENCH_SCALE_SVG ?? 'scripts/bench/results/scale.svg'
  await mkdir(dirname(svg), { recursive: true })
  await writeFile(svg, renderScalePlot(floor.row, rows))
  return [
    meshTable(rows, floor.row, floor.pingMs, skipped, loadAtStart),
    coordinatorTable(coordinatorRows, coordinatorSkipped, loadAtStart),
  ]
}
