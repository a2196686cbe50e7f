/**
 * Opening a protocol stream to a peer named by its ID when the addresses this node holds for it do
 * not work. A node behind NAT is reachable only at `/p2p-circuit` addresses, which change whenever
 * it gains or loses a relay reservation and which a DHT lookup may not return yet (its routing
 * table still filling, a busy machine). So after a failed dial the peer is tried through the relays
 * this node is directly connected to (a relay refuses at once when the peer holds no reservation
 * there); when no address was known at all, a fresh DHT lookup follows. A peer whose known
 * addresses refused is not looked up again: that is how a stopped peer fails, and callers (failover,
 * liveness) count on hearing so at once. Streams may run on limited (relayed) connections: a
 * relay's limits cut them, not this code.
 */
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { isPeerId, type Libp2p, type Logger, type PeerId, type Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export type PeerDialer = Pick<Libp2p, 'dialProtocol'> &
  Partial<Pick<Libp2p, 'peerRouting' | 'getConnections' | 'peerStore'>>

export async function dialPeerProtocol(
  libp2p: PeerDialer,
  target: PeerId | Multiaddr | Multiaddr[],
  protocol: string,
  options: { signal: AbortSignal; log: Logger },
): Promise<Stream> {
  const { signal, log } = options
  const dial = { signal, runOnLimitedConnection: true }
  try {
    return await libp2p.dialProtocol(target, protocol, dial)
  } catch (err) {
    if (!isPeerId(target) || signal.aborted) throw err
    log("dial %p failed (%s); trying it through this node's relays", target, (err as Error).message)
    const viaRelays = async (): Promise<Stream | undefined> => {
      const addrs = await circuitAddrsViaRelays(libp2p, target)
      if (addrs.length === 0) return undefined
      return libp2p.dialProtocol(addrs, protocol, dial)
    }
    const viaLookup = async (): Promise<Stream | undefined> => {
      if (libp2p.peerRouting === undefined) return undefined
      await libp2p.peerRouting.findPeer(target, { signal, useCache: false })
      return libp2p.dialProtocol(target, protocol, dial)
    }
    const noAddress = (err as Error).name === 'NoValidAddressesError'
    for (const attempt of noAddress ? [viaRelays, viaLookup] : [viaRelays]) {
      if (signal.aborted) break
      const stream = await attempt().catch((e: Error) => {
        log('dial %p: %s', target, e.message)
        return undefined
      })
      if (stream !== undefined) return stream
    }
    throw err
  }
}

/**
 * `<relay addr>/p2p/<relay>/p2p-circuit/p2p/<target>` through every peer this node holds a direct
 * connection to that offers the relay service (identify told the peer store).
 */
export async function circuitAddrsViaRelays(libp2p: PeerDialer, target: PeerId): Promise<Multiaddr[]> {
  if (libp2p.getConnections === undefined || libp2p.peerStore === undefined) return []
  const out = new Map<string, Multiaddr>()
  for (const conn of libp2p.getConnections()) {
    const relay = conn.remotePeer
    if (conn.status !== 'open' || out.has(relay.toString()) || relay.equals(target)) continue
    if (conn.remoteAddr.getComponents().some((c) => c.name === 'p2p-circuit')) continue
    const offers = await libp2p.peerStore.get(relay).then(
      (peer) => peer.protocols.includes(RELAY_V2_HOP_CODEC),
      () => false,
    )
    if (!offers) continue
    const base =
      conn.remoteAddr.getComponents().at(-1)?.name === 'p2p'
        ? conn.remoteAddr
        : conn.remoteAddr.encapsulate(`/p2p/${relay.toString()}`)
    out.set(relay.toString(), base.encapsulate(`/p2p-circuit/p2p/${target.toString()}`))
  }
  return [...out.values()]
}
