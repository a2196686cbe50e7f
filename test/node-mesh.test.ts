import type { IdentifyResult, PeerInfo, Startable } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { pEvent } from 'p-event'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { resolveConfig } from '../src/node/config/load.js'
import { createNode, type HorusNode } from '../src/node/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'

const mesh = new TestMesh()
afterEach(() => mesh.cleanup())

async function capabilityCid(name: string): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`horus/v1/capability/${name}`))
  return CID.createV1(0x55, digest)
}

function knows(node: HorusNode, other: HorusNode): boolean {
  return node.libp2p.getPeers().some((p) => p.equals(other.libp2p.peerId))
}

/** Waits until `seeker`'s own DHT lookup returns `provider` as a provider of `cid`. */
function findProvider(seeker: HorusNode, cid: CID, provider: HorusNode): Promise<PeerInfo> {
  return waitFor(
    async () => {
      for await (const p of seeker.libp2p.contentRouting.findProviders(cid, {
        signal: AbortSignal.timeout(5_000),
      }))
        if (p.id.equals(provider.libp2p.peerId)) return p
      return undefined
    },
    { what: `${seeker.peerId} to find ${provider.peerId} as a provider` },
  )
}

describe('a mesh of three nodes in one process', () => {
  it('joins through one bootstrap address, finds providers through the DHT, and spreads gossip', async () => {
    const a = await mesh.node({ name: 'a' })
    const bootstrap = [a.multiaddrs()[0] as string]
    const b = await mesh.node({ name: 'b', bootstrap })
    const c = await mesh.node({ name: 'c', bootstrap })
    const nodes = [a, b, c]

    for (const node of nodes) {
      for (const other of nodes) {
        if (node === other) continue
        await waitFor(() => knows(node, other), { what: `${node.peerId} to connect to ${other.peerId}` })
      }
    }

    // b and c were only ever given a's address: c finds b's record through the DHT.
    const cid = await capabilityCid('test-cap')
    await waitFor(async () => (await b.libp2p.services.dht.getMode()) === 'server' || undefined)
    await b.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(10_000) })
    const provider = await findProvider(c, cid, b)
    expect(provider.id.toString()).toBe(b.peerId)

    const topic = 'horus/test/gossip'
    const received = new Map<string, string>()
    for (const node of [a, c]) {
      node.libp2p.services.pubsub.subscribe(topic)
      node.libp2p.services.pubsub.addEventListener('message', (evt) => {
        if (evt.detail.topic === topic) received.set(node.peerId, new TextDecoder().decode(evt.detail.data))
      })
    }
    b.libp2p.services.pubsub.subscribe(topic)
    await waitFor(() => b.libp2p.services.pubsub.getSubscribers(topic).length === 2 || undefined, {
      what: 'b to see both subscriptions',
    })
    await b.libp2p.services.pubsub.publish(topic, new TextEncoder().encode('hello'))
    await waitFor(() => received.size === 2 || undefined, { what: 'gossip to reach a and c' })
    expect([...received.values()]).toEqual(['hello', 'hello'])
  })
})

describe('a node whose bootstrap connection is identified before its DHT has started', () => {
  it('still puts the bootstrap peer in its routing table and finds records through it', async () => {
    const a = await mesh.node({ name: 'a' })
    const b = await mesh.node({ name: 'b', bootstrap: [a.multiaddrs()[0] as string] })
    const cid = await capabilityCid('early-cap')
    await b.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(10_000) })

    // libp2p starts its services at once and the bootstrap discovery dials on the first tick; when
    // the DHT is the slower to start (across processes it waits on the peer store's lock behind
    // the NAT services), the connection to a is identified before the DHT follows its protocol.
    // Here the DHT waits for that identify on purpose, so the order is the same on every run.
    const config = resolveConfig({
      dataDir: await mesh.tempDir(),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [a.multiaddrs()[0] as string],
    })
    const c = await createNode(config, { start: false, logger: createLogger('c') })
    try {
      const dht = c.libp2p.services.dht as unknown as Startable & { routingTable: { size: number } }
      const startDht = dht.start.bind(dht)
      const identifiedA = pEvent(c.libp2p as unknown as EventTarget, 'peer:identify', {
        filter: (evt: Event) => (evt as CustomEvent<IdentifyResult>).detail.peerId.equals(a.libp2p.peerId),
        signal: AbortSignal.timeout(10_000),
      })
      dht.start = async () => {
        await identifiedA
        await startDht()
      }
      await c.start()
      // An identify push from a would tell c's DHT of a too, but only when a's own record changes;
      // across processes it has long settled by the time c joins. Here a started moments ago, so c
      // takes no pushes: only c's own doing may put a in its routing table.
      await c.libp2p.unhandle('/ipfs/id/push/1.0.0')

      await waitFor(() => dht.routingTable.size > 0 || undefined, { what: "a in c's routing table" })
      const found = await findProvider(c, cid, b)
      expect(found.id.toString()).toBe(b.peerId)
    } finally {
      await c.stop()
    }
  })
})
