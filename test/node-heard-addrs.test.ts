import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { storeHeardAddrs } from '../src/node/heard-addrs.js'
import { TestMesh } from '../src/testing/index.js'

const mesh = new TestMesh()
afterEach(async () => {
  vi.useRealTimers()
  await mesh.cleanup()
})
const log = createLogger('heard').forComponent('horus:node')

describe('addresses heard in heartbeats', () => {
  it('lets a node dial by peer ID a peer it only heard of, and leaves a connected peer as identify told it', async () => {
    const a = await mesh.node({ name: 'a' })
    const b = await mesh.node({ name: 'b' })
    const bId = peerIdFromString(b.peerId)
    // Never connected: the peer store has no address, the dial has nothing to try.
    await expect(a.libp2p.dial(bId, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow(
      /no valid addresses/i,
    )
    // What b's heartbeats announce: its listen addresses without its peer ID, and junk a peer may send.
    const announced = b.multiaddrs().map((m) => m.replace(`/p2p/${b.peerId}`, ''))
    await storeHeardAddrs(a.libp2p, { peerId: b.peerId, addrs: [...announced, 'not a multiaddr'] }, log)
    await a.libp2p.dial(bId, { signal: AbortSignal.timeout(10_000) })
    expect(a.libp2p.getConnections(bId).length).toBeGreaterThan(0)

    const elsewhere = '/ip4/127.0.0.1/tcp/1'
    await storeHeardAddrs(a.libp2p, { peerId: b.peerId, addrs: [elsewhere] }, log)
    const stored = await a.libp2p.peerStore.get(bId)
    expect(stored.addresses.map((addr) => addr.multiaddr.toString())).not.toContain(elsewhere)
  })
  it('keeps heard addresses usable past the hour after which the peer store hides an address', async () => {
    const a = await mesh.node({ name: 'a' })
    const b = await mesh.node({ name: 'b' })
    const bId = peerIdFromString(b.peerId)
    const announced = b.multiaddrs().map((m) => m.replace(`/p2p/${b.peerId}`, ''))
    await storeHeardAddrs(a.libp2p, { peerId: b.peerId, addrs: announced }, log)
    expect((await a.libp2p.peerStore.get(bId)).addresses.length).toBeGreaterThan(0)
    // Only Date moves: an hour and a minute later the peer store no longer hands the addresses out.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61 * 60 * 1000 })
    expect((await a.libp2p.peerStore.get(bId)).addresses).toEqual([])
    // What the periodic refresh does: the same announcement counts from now.
    await storeHeardAddrs(a.libp2p, { peerId: b.peerId, addrs: announced }, log)
    expect((await a.libp2p.peerStore.get(bId)).addresses.map((x) => x.multiaddr.toString()).sort()).toEqual(
      [...announced].sort(),
    )
    vi.useRealTimers()
    await a.libp2p.dial(bId, { signal: AbortSignal.timeout(10_000) })
    expect(a.libp2p.getConnections(bId).length).toBeGreaterThan(0)
  })
})
