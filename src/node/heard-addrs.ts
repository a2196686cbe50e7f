/**
 * Where a peer heard only through heartbeats listens. A peer this node was never connected to has
 * no address in the peer store (identify puts them there on a connection), so a call to it — a
 * coordinator forwarding to a member of a run's replica set, a supervisor link — could dial only
 * after a DHT lookup, which a busy mesh does not answer in time (the c = 10 scale bench failed on
 * it: "no valid addresses"). Its heartbeats announce where it listens (`addrs`).
 */
import type { Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'

/** Addresses a heartbeat announced, parsed; ones that do not parse are left out. */
export function announced(addrs: readonly string[]): Multiaddr[] {
  return addrs.flatMap((text) => {
    try {
      return [multiaddr(text)]
    } catch {
      return []
    }
  })
}

/**
 * Adds the addresses `peer` announced to the peer store, unless this node is connected to it (then
 * identify told it already). Called when a peer is first heard. A wrong address costs one failed
 * dial: noise checks the peer ID.
 */
export async function storeHeardAddrs(
  libp2p: Pick<Libp2p, 'getConnections' | 'peerStore'>,
  peer: { peerId: string; addrs?: string[] | undefined },
  log: Logger,
): Promise<void> {
  const addrs = announced(peer.addrs ?? [])
  if (addrs.length === 0) return
  const id = peerIdFromString(peer.peerId)
  if (libp2p.getConnections(id).length > 0) return
  try {
    await libp2p.peerStore.merge(id, { multiaddrs: addrs })
  } catch (err) {
    log('could not store the addresses %s announced: %s', peer.peerId, (err as Error).message)
  }
}
