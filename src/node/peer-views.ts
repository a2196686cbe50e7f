/**
 * How a node describes other peers in its answers (`node.peers`, `mesh.liveness`): where they
 * listen, as identify told the peer store (not the ephemeral port of a connection), and the name
 * the node's trust policy gives their key, so people read `runner-1` rather than `12D3KooW…`.
 */
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { publicKeyHexFromPeerId } from '../protocols/jobs/keys.js'
import type { TrustPolicy } from '../protocols/jobs/trust-policy.js'
import type { PeerSummary } from '../protocols/rpc/node-methods.js'

/** A peer's listen addresses from the peer store, each ending in `/p2p/<id>`. */
export async function listenAddrs(libp2p: Libp2p, peerId: string): Promise<string[]> {
  try {
    const peer = await libp2p.peerStore.get(peerIdFromString(peerId))
    return peer.addresses.map((a) => a.multiaddr.encapsulate(`/p2p/${peerId}`).toString())
  } catch {
    return []
  }
}

/** The name the policy gives the peer's key; the default `self` of a node's own key is not a name. */
export function trustName(policy: TrustPolicy, peerId: string): string | undefined {
  let entry: ReturnType<TrustPolicy['lookup']>
  try {
    entry = policy.lookup(publicKeyHexFromPeerId(peerId))
  } catch {
    return undefined
  }
  if (entry?.name === undefined || (entry.self && entry.name === 'self')) return undefined
  return entry.name
}

/** One summary per connected peer (several connections to one peer are one entry). */
export async function connectedPeers(
  libp2p: Libp2p,
  describe: { name(peerId: string): string | undefined; roles(peerId: string): string[] | undefined },
): Promise<PeerSummary[]> {
  const seen = new Map<string, PeerSummary>()
  for (const conn of libp2p.getConnections()) {
    const peerId = conn.remotePeer.toString()
    if (seen.has(peerId)) continue
    const name = describe.name(peerId)
    const roles = describe.roles(peerId)
    seen.set(peerId, {
      peerId,
      addrs: await listenAddrs(libp2p, peerId),
      ...(name === undefined ? {} : { name }),
      ...(roles === undefined ? {} : { roles }),
      direction: conn.direction,
    })
  }
  return [...seen.values()]
}
