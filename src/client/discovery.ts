/**
 * Finding nodes with a role from inside the mesh: heartbeats (`mesh.liveness`, fresh and with
 * load), the DHT (`mesh.find_providers`, slower but complete) and the entry node itself. Peer IDs
 * come from those; addresses from the entry node's connections (`node.peers`) and, once a node
 * has answered, from its own `node.info`.
 */

import type { RpcParams } from '../protocols/rpc/messages.js'
import type { PeerSummary } from '../protocols/rpc/node-methods.js'
import { FIND_PROVIDERS_TIMEOUT_MS } from './constants.js'
import type { LivePeer } from './types.js'

export interface NodeInfo {
  peerId: string
  roles: string[]
  multiaddrs: string[]
  publicKey: string
}

export interface Discovered {
  /** Best first: the entry node when it has the role, then the least loaded alive nodes, then DHT-only ones. */
  peerIds: string[]
  /** Addresses learned on the way, by peer ID. */
  addrs: Map<string, string[]>
}

type Call = <T>(method: string, params?: RpcParams, options?: { timeoutMs?: number }) => Promise<T>

export async function discoverRole(role: string, callEntry: Call): Promise<Discovered> {
  const [info, alive, providers, peers] = await Promise.all([
    callEntry<NodeInfo>('node.info'),
    callEntry<LivePeer[]>('mesh.liveness', { role }).catch(() => [] as LivePeer[]),
    callEntry<string[]>('mesh.find_providers', { role }, { timeoutMs: FIND_PROVIDERS_TIMEOUT_MS }).catch(
      () => [] as string[],
    ),
    callEntry<PeerSummary[]>('node.peers').catch(() => [] as PeerSummary[]),
  ])
  const ordered: string[] = []
  if (info.roles.includes(role)) ordered.push(info.peerId)
  const byLoad = [...alive].sort((a, b) => loadRatio(a) - loadRatio(b))
  for (const peer of byLoad) ordered.push(peer.peerId)
  for (const peerId of providers) ordered.push(peerId)
  const addrs = new Map<string, string[]>([[info.peerId, info.multiaddrs]])
  for (const peer of peers)
    addrs.set(
      peer.peerId,
      peer.addrs.map((a) => withPeerId(a, peer.peerId)),
    )
  return { peerIds: [...new Set(ordered)], addrs }
}

function loadRatio(peer: LivePeer): number {
  return peer.load.capacity > 0 ? peer.load.running / peer.load.capacity : 0
}

/** `addr` ending in `/p2p/<peerId>`, as libp2p needs to authenticate the dial. */
export function withPeerId(addr: string, peerId: string): string {
  return addr.includes('/p2p/') ? addr : `${addr.replace(/\/+$/, '')}/p2p/${peerId}`
}
