import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import type { HorusNode } from '../src/node/index.js'
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
    const provider = await waitFor(
      async () => {
        for await (const p of c.libp2p.contentRouting.findProviders(cid, {
          signal: AbortSignal.timeout(5_000),
        })) {
          if (p.id.equals(b.libp2p.peerId)) return p
        }
        return undefined
      },
      { what: 'c to find b as provider' },
    )
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
