import '../../src/node/polyfills.js'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { HorusNode } from '../../src/node/index.js'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import { type BenchTable, elapsedMs, formatTable, percentile } from './table.js'

const GOSSIP_MESSAGES = 30

async function startMesh(
  mesh: TestMesh,
  size: number,
): Promise<{ nodes: HorusNode[]; startMs: number[]; joinMs: number[] }> {
  const startMs: number[] = []
  const joinMs: number[] = []
  const t0 = process.hrtime.bigint()
  const hub = await mesh.node({ name: 'hub' })
  startMs.push(elapsedMs(t0))
  const bootstrap = [hub.multiaddrs()[0] as string]
  const nodes = [hub]
  for (let i = 1; i < size; i++) {
    const t = process.hrtime.bigint()
    const node = await mesh.node({ name: `n${i}`, bootstrap })
    startMs.push(elapsedMs(t))
    await waitFor(() => node.libp2p.getPeers().length > 0, { what: 'join', intervalMs: 5 })
    joinMs.push(elapsedMs(t))
    nodes.push(node)
  }
  return { nodes, startMs, joinMs }
}

async function gossipLatencies(nodes: HorusNode[]): Promise<number[]> {
  const topic = 'horus/bench/gossip'
  const arrivals = new Map<number, number[]>()
  for (const node of nodes) {
    node.libp2p.services.pubsub.subscribe(topic)
    node.libp2p.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== topic) return
      const seq = new DataView(evt.detail.data.buffer, evt.detail.data.byteOffset).getUint32(0)
      arrivals.get(seq)?.push(performance.now())
    })
  }
  const publisher = nodes[0] as HorusNode
  // Let the gossipsub mesh form (heartbeats) before measuring.
  await waitFor(
    () => publisher.libp2p.services.pubsub.getSubscribers(topic).length >= Math.min(nodes.length - 1, 1),
    {
      what: 'subscriptions',
    },
  )
  await new Promise((r) => setTimeout(r, 2_500))
  const latencies: number[] = []
  for (let seq = 0; seq < GOSSIP_MESSAGES; seq++) {
    const data = new Uint8Array(64)
    new DataView(data.buffer).setUint32(0, seq)
    arrivals.set(seq, [])
    const sent = performance.now()
    await publisher.libp2p.services.pubsub.publish(topic, data)
    await waitFor(() => (arrivals.get(seq)?.length ?? 0) >= nodes.length - 1, {
      what: `message ${seq} everywhere`,
      intervalMs: 1,
    })
    latencies.push(...(arrivals.get(seq) ?? []).map((t) => t - sent))
  }
  return latencies
}

async function dhtLatency(nodes: HorusNode[]): Promise<{ provideMs: number; findMs: number }> {
  const provider = nodes[1] as HorusNode
  const seeker = nodes.at(-1) as HorusNode
  const digest = await sha256.digest(new TextEncoder().encode(`horus/v1/capability/bench-${Date.now()}`))
  const cid = CID.createV1(0x55, digest)
  let t = process.hrtime.bigint()
  await provider.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(30_000) })
  const provideMs = elapsedMs(t)
  t = process.hrtime.bigint()
  for await (const p of seeker.libp2p.contentRouting.findProviders(cid, {
    signal: AbortSignal.timeout(30_000),
  })) {
    if (p.id.equals(provider.libp2p.peerId)) break
  }
  return { provideMs, findMs: elapsedMs(t) }
}

async function pingFloor(nodes: HorusNode[]): Promise<number[]> {
  const [a, b] = nodes as [HorusNode, HorusNode]
  const rtts: number[] = []
  for (let i = 0; i < 50; i++) {
    // ping() reports whole milliseconds; time the call itself for sub-millisecond resolution.
    const start = performance.now()
    await a.libp2p.services.ping.ping(b.libp2p.peerId)
    rtts.push(performance.now() - start)
  }
  return rtts
}

export async function runMeshBench(sizes: number[] = [5, 20]): Promise<BenchTable> {
  const rows: (string | number)[][] = []
  let floor: number[] = []
  for (const size of sizes) {
    const mesh = new TestMesh()
    try {
      global.gc?.()
      const rssBefore = process.memoryUsage().rss
      const { nodes, startMs, joinMs } = await startMesh(mesh, size)
      const rssPerNode = (process.memoryUsage().rss - rssBefore) / size / 1024 / 1024
      const gossip = await gossipLatencies(nodes)
      const dht = await dhtLatency(nodes)
      if (floor.length === 0) floor = await pingFloor(nodes)
      rows.push([
        size,
        percentile(startMs, 50),
        percentile(joinMs, 50),
        percentile(gossip, 50),
        percentile(gossip, 99),
        dht.provideMs,
        dht.findMs,
        rssPerNode,
      ])
    } finally {
      await mesh.cleanup()
    }
  }
  return {
    title: 'Mesh: start, join, gossip, DHT, memory (nodes in one process, loopback TCP)',
    columns: [
      'nodes',
      'start p50 ms',
      'join p50 ms',
      'gossip p50 ms',
      'gossip p99 ms',
      'DHT provide ms',
      'DHT find ms',
      'RSS/node MiB',
    ],
    rows,
    note: `Floor: libp2p ping round trip between two of these nodes, p50 ${percentile(floor, 50).toFixed(2)} ms, p99 ${percentile(floor, 99).toFixed(2)} ms (same run).`,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(formatTable(await runMeshBench()))
}
