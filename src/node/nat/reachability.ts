/**
 * Whether a node is reachable from the internet at a direct address, read from libp2p's address
 * manager: AutoNAT marks a public listen address verified when a peer dialled it back, and
 * unverified (with a re-check time) when peers could not. Private and loopback addresses are
 * never checked by AutoNAT (its peers refuse to dial them), so a node that has only those is
 * `private`: peers outside its network reach it only through a relay.
 */
import type { NodeAddress } from '@libp2p/interface-internal'
import { isLinkLocal, isLoopback, isNetworkAddress, isPrivate } from '@libp2p/utils'
import { isCircuit } from './circuit-addrs.js'

export type Reachability = 'public' | 'private' | 'unknown'

export interface ReachabilityView {
  reachability: Reachability
  /** Why, in words: which address AutoNAT confirmed, or what is missing. */
  reason: string
  /** Public addresses confirmed by AutoNAT or announced by the operator. */
  publicAddrs: string[]
}

export function reachabilityOf(addresses: readonly NodeAddress[], now = Date.now()): ReachabilityView {
  const candidates = addresses.filter(
    ({ multiaddr: ma }) =>
      !isCircuit(ma) && isNetworkAddress(ma) && !isPrivate(ma) && !isLoopback(ma) && !isLinkLocal(ma),
  )
  const confirmed = candidates.filter((a) => a.verified)
  const publicAddrs = confirmed.map((a) => a.multiaddr.toString())
  if (confirmed.length > 0) {
    const announced = confirmed.every((a) => a.type === 'announce')
    return {
      reachability: 'public',
      reason: announced
        ? `announced by its config (not checked by AutoNAT): ${publicAddrs.join(', ')}`
        : `AutoNAT: peers dialled it back at ${publicAddrs.join(', ')}`,
      publicAddrs,
    }
  }
  if (candidates.length === 0)
    return {
      reachability: 'private',
      reason: 'no public address: it listens on private or loopback addresses only',
      publicAddrs: [],
    }
  const refused = candidates.filter((a) => a.expires > now)
  if (refused.length === candidates.length)
    return {
      reachability: 'private',
      reason: `AutoNAT: peers could not dial ${candidates.map((a) => a.multiaddr.toString()).join(', ')} (behind NAT or a firewall)`,
      publicAddrs: [],
    }
  return {
    reachability: 'unknown',
    reason: `AutoNAT has not yet had peers dial ${candidates
      .filter((a) => a.expires <= now)
      .map((a) => a.multiaddr.toString())
      .join(', ')}`,
    publicAddrs: [],
  }
}
