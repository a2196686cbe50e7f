import type { Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { boundedCall } from '../core/bounded-call.js'
import { RECONNECT_DIAL_TIMEOUT_MS } from './constants.js'
import type { KnownPeers } from './known-peers.js'

/**
 * After a restart, dials the peers this node knew (its persisted known-peers list), so it rejoins
 * the mesh without a bootstrap address. Failures are only logged: peers that went away are expected.
 */
export async function reconnectKnownPeers(
  libp2p: Libp2p,
  known: KnownPeers,
  log: Logger,
  options: { signal: AbortSignal },
): Promise<number> {
  const self = libp2p.peerId.toString()
  const peers = (await known.list()).filter((peer) => peer.peerId !== self)
  const results = await Promise.allSettled(
    peers.map(async (peer) => {
      if (libp2p.getConnections(peerIdFromString(peer.peerId)).length > 0) return
      const addrs = peer.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peer.peerId}`))
      await boundedCall(options.signal, RECONNECT_DIAL_TIMEOUT_MS, (signal) => libp2p.dial(addrs, { signal }))
    }),
  )
  let connected = 0
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') connected++
    else log('could not reconnect to %s: %s', peers[i]?.peerId, (result.reason as Error).message)
  })
  return connected
}
