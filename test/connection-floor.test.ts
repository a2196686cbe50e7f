import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { ConnectionFloor, type FloorCandidate } from '../src/node/connection-floor.js'
import { CONNECTION_FLOOR_BACKOFF_MS, CONNECTION_FLOOR_DIALS_PER_TICK } from '../src/node/constants.js'

async function peerIds(n: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()),
  )
}

/** Connections as given; `dial` connects to the peer the addresses name unless told to fail. */
function fakeLibp2p(self: string, connected: string[]) {
  const connections = new Set(connected)
  const failing = new Set<string>()
  const dialled: { peer: string; addrs: string[] }[] = []
  const libp2p = {
    peerId: { toString: () => self },
    getConnections: () =>
      [...connections].map((id) => ({ remotePeer: { toString: () => id } }) as Connection),
    dial: async (addrs: Multiaddr[]) => {
      const peer = addrs[0]?.getComponents().findLast((c) => c.name === 'p2p')?.value as string
      dialled.push({ peer, addrs: addrs.map((a) => a.toString()) })
      if (failing.has(peer)) throw new Error('connection refused')
      connections.add(peer)
      return {} as Connection
    },
  } as unknown as Pick<Libp2p, 'getConnections' | 'dial' | 'peerId'>
  return { libp2p, dialled, failing, connections }
}

const log = createLogger('floor').forComponent('horus:mesh-keeper')
const addr = (port: number) => [`/ip4/127.0.0.1/tcp/${port}`]

describe('connection floor', () => {
  it('dials heard peers at their announced addresses up to the floor, never bootstrap peers or unaddressed ones', async () => {
    const [self, boot, a, b, c, quiet, garbled] = (await peerIds(7)) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    const fake = fakeLibp2p(self, [boot])
    const heard: FloorCandidate[] = [
      { peerId: self, addrs: addr(1) },
      { peerId: boot, addrs: addr(2) },
      { peerId: a, addrs: addr(3) },
      { peerId: b, addrs: addr(4) },
      { peerId: c, addrs: addr(5) },
      // An older node announces no address; a hostile or broken one announces garbage.
      { peerId: quiet },
      { peerId: garbled, addrs: ['not a multiaddr', '/ip4/999.1.1.1/tcp/1'] },
    ]
    const floor = new ConnectionFloor({
      libp2p: fake.libp2p,
      log,
      floor: 3,
      peers: () => heard,
      skip: () => new Set([boot]),
    })
    const signal = new AbortController().signal
    // Connected to the bootstrap peer only: two more make the floor of three.
    expect(floor.fill(signal)).toBe(2)
    await floor.settled()
    expect(fake.dialled).toHaveLength(2)
    for (const { peer, addrs } of fake.dialled) {
      expect([a, b, c]).toContain(peer)
      expect(addrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${peer}$`))
    }
    expect(fake.connections.size).toBe(3)
    // At the floor: nothing more.
    expect(floor.fill(signal)).toBe(0)
  })

  it('dials a few per pass and leaves a peer that failed alone for the backoff', async () => {
    const [self, ...others] = (await peerIds(12)) as [string, ...string[]]
    const fake = fakeLibp2p(self, [])
    for (const id of others) fake.failing.add(id)
    const floor = new ConnectionFloor({
      libp2p: fake.libp2p,
      log,
      floor: 8,
      peers: () => others.map((peerId, i) => ({ peerId, addrs: addr(1000 + i) })),
      skip: () => new Set(),
    })
    const signal = new AbortController().signal
    const now = Date.now()
    expect(floor.fill(signal, now)).toBe(CONNECTION_FLOOR_DIALS_PER_TICK)
    await floor.settled()
    const failedFirst = new Set(fake.dialled.map((d) => d.peer))
    // The next pass dials others, never the ones that just failed.
    expect(floor.fill(signal, now + 1)).toBe(CONNECTION_FLOOR_DIALS_PER_TICK)
    await floor.settled()
    for (const { peer } of fake.dialled.slice(CONNECTION_FLOOR_DIALS_PER_TICK))
      expect(failedFirst.has(peer)).toBe(false)
    // Eleven peers, eight failed within the backoff: three are left to try, then none.
    expect(floor.fill(signal, now + 2)).toBe(3)
    await floor.settled()
    expect(floor.fill(signal, Date.now() + 1)).toBe(0)
    // After the backoff every peer may be tried again.
    expect(floor.fill(signal, Date.now() + CONNECTION_FLOOR_BACKOFF_MS + 1)).toBe(
      CONNECTION_FLOOR_DIALS_PER_TICK,
    )
    await floor.settled()
  })
})
