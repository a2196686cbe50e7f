import type { GossipSubEvents } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import { KEEP_ALIVE } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { ConnectionTrimmer } from '../src/node/connection-trimmer.js'
import { TRIM_GRACE_MS } from '../src/node/constants.js'
import type { HorusNode } from '../src/node/index.js'
import { fastMessageId } from '../src/protocols/gossip/fast-msg-id.js'
import { decodeHeartbeat, encodeHeartbeat, heartbeatInterval } from '../src/protocols/liveness/index.js'
import { RPC_PROTOCOL } from '../src/protocols/rpc/constants.js'
import { TestMesh, waitFor } from '../src/testing/index.js'

const mesh = new TestMesh()
afterEach(() => mesh.cleanup())

/** Removes the keep-alive tags `node` holds for `peers` (the DHT's closest-peer tag). */
async function hasKeepAlive(node: HorusNode, peer: HorusNode): Promise<boolean> {
  const stored = await node.libp2p.peerStore.get(peer.libp2p.peerId)
  return [...stored.tags.keys()].some((t) => t.startsWith(KEEP_ALIVE))
}

async function dropKeepAlive(node: HorusNode, ...peers: HorusNode[]): Promise<void> {
  for (const peer of peers) {
    const stored = await node.libp2p.peerStore.get(peer.libp2p.peerId)
    const tags = Object.fromEntries(
      [...stored.tags.keys()].filter((t) => t.startsWith(KEEP_ALIVE)).map((t) => [t, undefined]),
    )
    await node.libp2p.peerStore.merge(peer.libp2p.peerId, { tags })
  }
}

describe('presence budget: heartbeat interval grows with the mesh', () => {
  const bounds = { budgetPerSecond: 1, fastMeshNodes: 10, minMs: 1_000, maxMs: 30_000 }

  it('keeps one heartbeat a second in a mesh of up to fastMeshNodes', () => {
    expect(heartbeatInterval({ ...bounds, peers: 0 })).toBe(1_000)
    expect(heartbeatInterval({ ...bounds, peers: 9 })).toBe(1_000)
  })

  it('beyond, spaces heartbeats so the mesh sends about the budget per second', () => {
    expect(heartbeatInterval({ ...bounds, peers: 10 })).toBe(11_000)
    for (const peers of [19, 59, 199]) {
      const interval = heartbeatInterval({ ...bounds, budgetPerSecond: 10, peers })
      // (peers + 1) nodes each sending one per interval: the budget, whatever the size.
      expect(((peers + 1) * 1000) / interval).toBeCloseTo(10, 0)
    }
  })

  it('never waits longer than the maximum interval', () => {
    expect(heartbeatInterval({ ...bounds, peers: 29 })).toBe(30_000)
    expect(heartbeatInterval({ ...bounds, peers: 100_000 })).toBe(30_000)
  })

  const base = {
    peerId: 'p',
    roles: [],
    capabilities: [],
    load: { running: 0, capacity: 0 },
    seq: 1,
    sentAt: 0,
  }

  it('carries the announced interval and rejects a malformed one', () => {
    expect(decodeHeartbeat(encodeHeartbeat({ ...base, intervalMs: 4_000 }))?.intervalMs).toBe(4_000)
    expect(decodeHeartbeat(encodeHeartbeat(base))?.intervalMs).toBeUndefined()
    const encode = (v: unknown): Uint8Array =>
      new TextEncoder().encode(JSON.stringify({ ...base, intervalMs: v }))
    for (const bad of [0, -5, 1.5, '1000', null]) expect(decodeHeartbeat(encode(bad))).toBeUndefined()
  })

  it('carries listen addresses (the connection floor dials them) and rejects too many or malformed', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']
    expect(decodeHeartbeat(encodeHeartbeat({ ...base, addrs }))?.addrs).toEqual(addrs)
    expect(decodeHeartbeat(encodeHeartbeat(base))?.addrs).toBeUndefined()
    const encode = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({ ...base, addrs: v }))
    const tooMany = Array.from({ length: 17 }, (_, i) => `/ip4/127.0.0.1/tcp/${i}`)
    for (const bad of [tooMany, [`/dns4/${'a'.repeat(130)}/tcp/1`], [1], '/ip4/1.2.3.4/tcp/1', null])
      expect(decodeHeartbeat(encode(bad))).toBeUndefined()
  })
})

describe('gossip fast message id', () => {
  const message = (from: number[], seqno: number[], data = [1]): RPC.Message => ({
    topic: 't',
    from: Uint8Array.from(from),
    seqno: Uint8Array.from(seqno),
    data: Uint8Array.from(data),
  })

  it('names a message by publisher and sequence number, as its full id does', () => {
    expect(fastMessageId(message([1, 2], [3]))).toBe(fastMessageId(message([1, 2], [3], [9, 9])))
    expect(fastMessageId(message([1, 2], [3]))).not.toBe(fastMessageId(message([1, 2], [4])))
    expect(fastMessageId(message([1, 2], [3]))).not.toBe(fastMessageId(message([1, 3], [3])))
  })

  it('gives unsigned messages an id no signed message has', () => {
    expect(fastMessageId({ topic: 't', data: Uint8Array.from([1]) })).toBe('')
  })

  it('reads a frame decoded from the wire (a view into a larger buffer)', () => {
    const wire = RPC.Message.encode(message([7, 7, 7], [0, 0, 1]))
    const padded = new Uint8Array(wire.length + 10)
    padded.set(wire, 10)
    const decoded = RPC.Message.decode(padded.subarray(10))
    expect(fastMessageId(decoded)).toBe(fastMessageId(message([7, 7, 7], [0, 0, 1])))
  })
})

describe('connection trimmer', () => {
  it('closes idle connections beyond the target and spares mesh peers, kept peers and peers in use', async () => {
    const hub = await mesh.node({ name: 'hub' })
    const bootstrap = [hub.multiaddrs()[0] as string]
    const leaves: HorusNode[] = []
    for (let i = 0; i < 4; i++) leaves.push(await mesh.node({ name: `leaf${i}`, bootstrap }))
    await waitFor(() => hub.libp2p.getConnections().length >= 4, { what: 'every leaf connected to the hub' })
    const [grafted, kept, busy, idle] = leaves as [HorusNode, HorusNode, HorusNode, HorusNode]
    // The hub's own gossip mesh would spare every leaf; a separate graft source picks one.
    const graft = new TypedEventEmitter<GossipSubEvents>()
    const trimmer = new ConnectionTrimmer({
      libp2p: hub.libp2p,
      pubsub: graft,
      log: createLogger('hub').forComponent('horus:trimmer'),
      target: 1,
      keep: () => new Set([kept.peerId]),
    })
    trimmer.start()
    try {
      graft.safeDispatchEvent('gossipsub:graft', {
        detail: { peerId: grafted.peerId, topic: 't', direction: 'outbound' },
      })
      const stream = await hub.libp2p.dialProtocol(busy.libp2p.peerId, RPC_PROTOCOL)
      // In a mesh this small every leaf is among the hub's closest DHT peers, tagged keep-alive:
      // the idle leaf loses the tag, the others keep it or have another reason to stay. The tags
      // come once identify has put a leaf in the routing table (late on a loaded host): a tag
      // dropped before it came would come back and spare the idle leaf.
      await waitFor(
        async () => (await Promise.all(leaves.map((leaf) => hasKeepAlive(hub, leaf)))).every(Boolean),
        { what: 'the hub to tag every leaf keep-alive (its closest DHT peers)' },
      )
      await dropKeepAlive(hub, idle)
      expect(await trimmer.trim(Date.now())).toEqual([]) // everything is younger than the grace period
      const closed = await trimmer.trim(Date.now() + TRIM_GRACE_MS)
      expect(closed.map((c) => c.remotePeer.toString())).toEqual([idle.peerId])
      // That connection closes. (Not "no connection to the leaf": below its connection floor the
      // hub dials peers it hears, and may already be connected to the leaf again.)
      await waitFor(() => closed[0]?.status === 'closed', { what: "the idle leaf's connection to close" })
      await dropKeepAlive(hub, grafted, kept, busy)
      expect(await trimmer.trim(Date.now() + TRIM_GRACE_MS)).toEqual([])
      for (const leaf of [grafted, kept, busy])
        expect(hub.libp2p.getConnections(leaf.libp2p.peerId).length).toBeGreaterThan(0)
      await stream.close()
    } finally {
      trimmer.stop()
    }
  })
})
