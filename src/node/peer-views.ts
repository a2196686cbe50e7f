/**
 * How a node describes other peers in its answers (`node.peers`, `mesh.liveness`): where they
 * listen, as identify told the peer store (not the ephemeral port of a connection), and the name
 * the node's trust policy gives their key, so people read `runner-1` rather than `12D3KooW…`.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { publicKeyHexFromPeerId } from '../protocols/jobs/keys.js'
import type { TrustPolicy } from '../protocols/jobs/trust-policy.js'
import type { PeerSummary } from '../protocols/rpc/node-methods.js'
import { isCircuit, relayOf } from './nat/circuit-addrs.js'

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

/** Whether the policy has an entry for the peer's key (any role): who may use or be this node's relay. */
export function isTrustedPeer(policy: TrustPolicy, peerId: string): boolean {
  try {
    return policy.lookup(publicKeyHexFromPeerId(peerId)) !== undefined
  } catch {
    return false
  }
}

/**
 * How this node reaches a peer when every open connection to it runs through a relay: the relay's
 * peer ID, and whether the relay limits the connection (duration or data). Undefined when a direct
 * connection is open (or none at all).
 */
export function relayedVia(libp2p: Libp2p, peerId: string): { relay: string; limited: boolean } | undefined {
  const conns = libp2p.getConnections(peerIdFromString(peerId)).filter((c) => c.status === 'open')
  if (conns.length === 0 || conns.some((c) => !isCircuit(c.remoteAddr))) return undefined
  const conn = conns[0] as Connection
  const relay = relayOf(conn.remoteAddr) ?? relayByAddr(libp2p, conn.remoteAddr)
  return relay === undefined ? undefined : { relay, limited: conn.limits !== undefined }
}

/** An inbound relayed address starts with the relay connection's address, which may lack `/p2p/`. */
function relayByAddr(libp2p: Libp2p, addr: Multiaddr): string | undefined {
  const text = addr.toString()
  const prefix = text.slice(0, text.indexOf('/p2p-circuit'))
  return libp2p
    .getConnections()
    .find((c) => c.remoteAddr.toString() === prefix)
    ?.remotePeer.toString()
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
    const via = relayedVia(libp2p, peerId)
    seen.set(peerId, {
      peerId,
      addrs: await listenAddrs(libp2p, peerId),
      ...(name === undefined ? {} : { name }),
      ...(roles === undefined ? {} : { roles }),
      direction: conn.direction,
      ...(via === undefined ? {} : { relay: via.relay, ...(via.limited ? { limited: true } : {}) }),
    })
  }
  return [...seen.values()]
}
