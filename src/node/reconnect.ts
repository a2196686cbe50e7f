import type { Libp2p, Logger } from '@libp2p/interface'
import { RECONNECT_DIAL_TIMEOUT_MS, RECONNECT_MAX_PEERS } from './constants.js'

/**
 * After a restart, dials peers from the persisted peer store, so a node rejoins the mesh it knew
 * without a bootstrap address. Most recently updated peers first; failures are only logged, since
 * peers that went away are expected.
 */
export async function reconnectKnownPeers(
  libp2p: Libp2p,
  log: Logger,
  options: { signal: AbortSignal; maxPeers?: number },
): Promise<number> {
  const self = libp2p.peerId
  const peers = (await libp2p.peerStore.all())
    .filter((peer) => !peer.id.equals(self) && peer.addresses.length > 0)
    .slice(0, options.maxPeers ?? RECONNECT_MAX_PEERS)
  const results = await Promise.allSettled(
    peers.map(async (peer) => {
      if (libp2p.getConnections(peer.id).length > 0) return
      const signal = AbortSignal.any([options.signal, AbortSignal.timeout(RECONNECT_DIAL_TIMEOUT_MS)])
      await libp2p.dial(peer.id, { signal })
    }),
  )
  let connected = 0
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') connected++
    else log('could not reconnect to %p: %s', peers[i]?.id, (result.reason as Error).message)
  })
  return connected
}
