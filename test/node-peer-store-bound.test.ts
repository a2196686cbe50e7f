/**
 * A stranger reconnecting with fresh keys must not grow a node's memory without end: every peer
 * that connects gets a record in libp2p's peer store (identify writes it), and the node keeps
 * those records in memory, bounded.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { BoundedMemoryDatastore } from '../src/node/bounded-memory-datastore.js'
import { libp2pDatastore } from '../src/node/libp2p-datastore.js'

const started: Libp2p[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((node) => node.stop()))
})

async function host(datastore?: ReturnType<typeof libp2pDatastore>['datastore']): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    // libp2p takes 5 new connections a second per host; an attacker with many hosts is not slowed.
    connectionManager: { inboundConnectionThreshold: 1_000 },
    ...(datastore === undefined ? {} : { datastore }),
  })
  started.push(node)
  return node
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("libp2p's peer store in memory", () => {
  it('keeps at most its bound of records however many fresh keys connect, and still serves the newest', async () => {
    const { datastore, peers } = libp2pDatastore(new MemoryDatastore(), { maxEntries: 8, maxBytes: 1 << 20 })
    const target = await host(datastore)
    const addr = target.getMultiaddrs()[0]
    if (addr === undefined) throw new Error('no listen address')
    let last: Libp2p | undefined
    for (let i = 0; i < 24; i++) {
      const stranger = await host()
      await stranger.dial(addr, { signal: AbortSignal.timeout(10_000) })
      // identify has run on the target's side: its record of the stranger holds the protocols.
      await until(
        async () =>
          (await target.peerStore.has(stranger.peerId)) &&
          (await target.peerStore.get(stranger.peerId)).protocols.length > 0,
        `the target identified stranger ${i}`,
      )
      if (i < 23) {
        await stranger.stop()
        started.splice(started.indexOf(stranger), 1)
      } else last = stranger
      expect(peers.size.entries).toBeLessThanOrEqual(8)
    }
    expect(peers.evicted).toBeGreaterThanOrEqual(24 - 8)
    if (last === undefined) throw new Error('no last stranger')
    expect((await target.peerStore.get(last.peerId)).protocols).toContain('/ipfs/id/1.0.0')
    expect(target.getConnections(last.peerId).length).toBeGreaterThan(0)
  })

  it('drops the least recently written records first, by count and by bytes', () => {
    const store = new BoundedMemoryDatastore({ maxEntries: 3, maxBytes: 10 })
    const put = (name: string, bytes: number): void => {
      store.put(new Key(`/peers/${name}`), new Uint8Array(bytes))
    }
    put('a', 2)
    put('b', 2)
    put('c', 2)
    put('a', 2) // rewritten: now the most recent
    put('d', 2) // four entries: b, the least recently written, goes
    expect([store.has(new Key('/peers/a')), store.has(new Key('/peers/b'))]).toEqual([true, false])
    put('e', 9) // 2 + 2 + 2 + 9 bytes: c, a and d go, e stays alone
    expect(store.size).toEqual({ entries: 1, bytes: 9 })
    store.delete(new Key('/peers/e'))
    expect(store.size).toEqual({ entries: 0, bytes: 0 })
  })
})
