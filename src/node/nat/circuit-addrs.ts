/** Reading relayed (`/p2p-circuit`) addresses: `<relay addr>/p2p/<relay>/p2p-circuit[/p2p/<target>]`. */
import type { Multiaddr } from '@multiformats/multiaddr'

export function isCircuit(ma: Multiaddr): boolean {
  return ma.getComponents().some((c) => c.name === 'p2p-circuit')
}

/** The relay's peer ID in a relayed address (the last `/p2p/` before `/p2p-circuit`). */
export function relayOf(ma: Multiaddr): string | undefined {
  const components = ma.getComponents()
  const circuit = components.findIndex((c) => c.name === 'p2p-circuit')
  if (circuit < 0) return undefined
  return components.slice(0, circuit).findLast((c) => c.name === 'p2p')?.value
}

/** The peer ID an address ends with (`…/p2p/<id>`), if any. */
export function peerIdOf(addr: Multiaddr): string | undefined {
  return addr.getComponents().findLast((c) => c.name === 'p2p')?.value
}
