/**
 * Where an idle node's CPU goes: N bench nodes (as the scale bench starts them) in this process,
 * then, once every node hears every other and a settling pause has passed, one idle window in
 * which it counts per node per second: gossipsub RPCs received and sent (messages by topic,
 * IHAVE / IWANT / GRAFT / PRUNE entries), timer callbacks fired (by the file that armed them),
 * streams opened by protocol, datastore operations, bytes read; and takes a V8 CPU profile of the
 * window (busy time by package, and the top functions).
 *
 *   node --expose-gc dist/scripts/bench/idle-probe.js [N=25] [settle s=20] [window s=20]
 *
 * A diagnostic, not a benchmark table: the scale bench measures the same idle cost against N.
 */
import '../../src/node/polyfills.js'
import { Session } from 'node:inspector/promises'
import type { HorusNode } from '../../src/node/node.js'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import { analyse } from './cpu-profile.js'
import { identities, socketBytesRead, startBenchNode } from './scale.js'
import { countsDelta, formatCounts, StreamCounts } from './stream-counts.js'

const N = Number(process.argv[2] ?? 25)
const SETTLE_S = Number(process.argv[3] ?? 20)
const WINDOW_S = Number(process.argv[4] ?? 20)

type Tally = Map<string, number>
const bump = (m: Tally, key: string, by = 1): void => {
  m.set(key, (m.get(key) ?? 0) + by)
}

interface RpcLike {
  messages?: { topic?: string }[]
  subscriptions?: unknown[]
  control?: {
    ihave?: { messageIDs?: unknown[] }[]
    iwant?: { messageIDs?: unknown[] }[]
    graft?: unknown[]
    prune?: unknown[]
    idontwant?: { messageIDs?: unknown[] }[]
  }
}

function tallyRpc(m: Tally, dir: string, rpc: RpcLike): void {
  bump(m, `${dir} rpc`)
  for (const msg of rpc.messages ?? []) bump(m, `${dir} msg ${msg.topic}`)
  if ((rpc.subscriptions?.length ?? 0) > 0) bump(m, `${dir} subscriptions`, rpc.subscriptions?.length)
  const c = rpc.control
  if (c === undefined) return
  const ids = (list?: { messageIDs?: unknown[] }[]): number =>
    (list ?? []).reduce((a, e) => a + (e.messageIDs?.length ?? 0), 0)
  if ((c.ihave?.length ?? 0) > 0) {
    bump(m, `${dir} ihave entries`, c.ihave?.length)
    bump(m, `${dir} ihave ids`, ids(c.ihave))
  }
  if ((c.iwant?.length ?? 0) > 0) bump(m, `${dir} iwant ids`, ids(c.iwant))
  if ((c.idontwant?.length ?? 0) > 0) bump(m, `${dir} idontwant ids`, ids(c.idontwant))
  if ((c.graft?.length ?? 0) > 0) bump(m, `${dir} graft`, c.graft?.length)
  if ((c.prune?.length ?? 0) > 0) bump(m, `${dir} prune`, c.prune?.length)
}

function watchGossip(node: HorusNode, m: Tally, on: () => boolean): void {
  const pubsub = node.libp2p.services.pubsub as unknown as {
    handleReceivedRpc(from: unknown, rpc: RpcLike): Promise<void>
    sendRpc(id: string, rpc: RpcLike): boolean
  }
  const received = pubsub.handleReceivedRpc.bind(pubsub)
  pubsub.handleReceivedRpc = (from, rpc) => {
    if (on()) tallyRpc(m, 'in', rpc)
    return received(from, rpc)
  }
  const sent = pubsub.sendRpc.bind(pubsub)
  pubsub.sendRpc = (id, rpc) => {
    if (on()) tallyRpc(m, 'out', rpc)
    return sent(id, rpc)
  }
}

/** Counts timer callbacks fired while `on()`, keyed by the package or file that armed the timer. */
function watchTimers(m: Tally, on: () => boolean): void {
  const where = (): string => {
    const lines = (new Error().stack ?? '').split('\n').slice(3)
    const frame = lines.find((l) => !l.includes('idle-probe') && !l.includes('node:internal')) ?? ''
    const nm = frame.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*?):\d+:\d+/)
    if (nm !== null) return `${nm[1]} ${nm[2]?.split('/').pop()}`
    return frame.replace(/^.*\/dist\//, '').replace(/:\d+\)?$/, '')
  }
  for (const name of ['setTimeout', 'setInterval'] as const) {
    const original = globalThis[name] as (...args: unknown[]) => unknown
    ;(globalThis as Record<string, unknown>)[name] = (fn: (...a: unknown[]) => void, ...rest: unknown[]) => {
      if (typeof fn !== 'function' || !on()) return original(fn, ...rest)
      const key = `${name} ${where()}`
      return original(
        (...a: unknown[]) => {
          if (on()) bump(m, key)
          fn(...a)
        },
        ...rest,
      )
    }
  }
}

async function main(): Promise<void> {
  const mesh = new TestMesh()
  const nodes: HorusNode[] = []
  let counting = false
  const gossip: Tally = new Map()
  const timers: Tally = new Map()
  watchTimers(timers, () => counting)
  try {
    const { dirs, trust } = await identities(mesh, N)
    const first = await startBenchNode(0, dirs[0] as string, [], trust)
    nodes.push(first.node)
    const seeds = [first.node.multiaddrs()[0] as string]
    for (let i = 1; i < N; i++) {
      const { node } = await startBenchNode(i, dirs[i] as string, [seeds[i % seeds.length] as string], trust)
      nodes.push(node)
      if (i < 3) seeds.push(node.multiaddrs()[0] as string)
    }
    for (const node of nodes) watchGossip(node, gossip, () => counting)
    await waitFor(() => nodes.every((n) => n.liveness.alive().length >= N - 1), {
      what: 'every node to hear every other',
      timeoutMs: 120_000,
      intervalMs: 250,
    })
    process.stderr.write(`all ${N} hear all; settling ${SETTLE_S} s\n`)
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000))
    // A plain window first (no counting, no profiler): the CPU figure the scale bench would read.
    const plainFromUs = process.hrtime.bigint() / 1000n
    const plain0 = process.cpuUsage()
    const plainT = Date.now()
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000))
    const plain = process.cpuUsage(plain0)
    const plainMs = (plain.user + plain.system) / 1000 / N / ((Date.now() - plainT) / 1000)
    // For a --cpu-prof run: cpu-profile.js <file> --window <this>
    process.stderr.write(`plain window: ${plainFromUs}-${process.hrtime.bigint() / 1000n}\n`)
    if (process.env.PROBE_PLAIN_ONLY === '1') {
      process.stdout.write(`N = ${N}: CPU ms per node per s ${plainMs.toFixed(2)} (plain window)\n`)
      return
    }
    const streams = nodes.map((n) => new StreamCounts(n))
    const streams0 = streams.map((s) => s.snapshot())
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    const bytes0 = socketBytesRead()
    const accepted0 = nodes.reduce((a, n) => a + n.liveness.stats().accepted, 0)
    const cpu0 = process.cpuUsage()
    const t0 = Date.now()
    counting = true
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000))
    counting = false
    const seconds = (Date.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    const per = N * seconds
    const out = (line: string): void => {
      process.stdout.write(`${line}\n`)
    }
    out(`N = ${N}, window ${seconds.toFixed(1)} s`)
    out(
      `CPU ms per node per s: ${plainMs.toFixed(2)} (plain window); ${((cpu.user + cpu.system) / 1000 / per).toFixed(2)} while counting and profiling`,
    )
    out(`KiB read per node per s: ${((socketBytesRead() - bytes0) / 1024 / per).toFixed(2)}`)
    out(
      `heartbeats accepted per node per s: ${((nodes.reduce((a, n) => a + n.liveness.stats().accepted, 0) - accepted0) / per).toFixed(2)}`,
    )
    out(`heartbeat interval ms (node 0): ${nodes[0]?.liveness.heartbeatIntervalMs}`)
    out(
      `connections per node: ${(nodes.reduce((a, n) => a + n.libp2p.getConnections().length, 0) / N).toFixed(1)}`,
    )
    out(`topics (node 0): ${nodes[0]?.libp2p.services.pubsub.getTopics().join(', ')}`)
    out('\ngossip per node per s:')
    for (const [k, v] of [...gossip].sort((a, b) => b[1] - a[1]))
      out(`  ${(v / per).toFixed(2).padStart(8)}  ${k}`)
    out('\ntimer callbacks per node per s (by who armed them):')
    for (const [k, v] of [...timers].sort((a, b) => b[1] - a[1]).slice(0, 30))
      out(`  ${(v / per).toFixed(2).padStart(8)}  ${k}`)
    const opened = streams.map((s) => s.snapshot())
    out(
      `\nstreams per node per s: ${formatCounts(
        countsDelta(
          streams0.map((s) => s.streams),
          opened.map((s) => s.streams),
          per,
        ),
      )}`,
    )
    out(
      `datastore per node per s: ${formatCounts(
        countsDelta(
          streams0.map((s) => s.datastore),
          opened.map((s) => s.datastore),
          per,
        ),
      )}`,
    )
    const report = analyse(profile as never, { depth: 8 })
    const busy = report.busyUs
    out(`\nprofile: busy ${(busy / 1000 / per).toFixed(2)} ms per node per s`)
    out('inclusive by package/file (share of busy):')
    for (const [k, v] of report.inclusive.slice(0, 30))
      out(`  ${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}`)
    out('self by function:')
    for (const [k, v] of report.self.slice(0, 40))
      out(`  ${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}`)
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    await mesh.cleanup()
  }
}

await main()
process.exit(0)
