/**
 * Who may use a relay, and through whom a node accepts relayed connections. A relay is a peer
 * like any other: relayed connections stay noise-encrypted end to end (the relay sees only
 * ciphertext and who talks to whom), but a relay costs bandwidth and sockets, and the relay a node
 * reserves on learns its traffic pattern and can cut it off. So by default:
 * - a relay (`relay.service`) grants reservations only to keys of its own trust policy, and
 *   connects a caller to a reserved node only when the caller's key is trusted too
 *   (`relay.service.allow: anyone` makes it a public relay);
 * - a node accepts relayed connections only through relays it chose (its `relay.peers`, its
 *   bootstrap peers, or keys of its trust policy): another peer cannot make it listen through
 *   itself by sending a relay "stop" request unasked.
 */
import type { ConnectionGater, Logger, PeerId } from '@libp2p/interface'
import type { RelayAllow } from '../config/types.js'

export interface RelayGaterInit {
  /** Whether the key is in this node's trust policy now (the policy can be reloaded). */
  trusted(peerId: PeerId): boolean
  /** Whether this node accepts the peer as its relay. */
  isOwnRelay(peerId: PeerId): boolean
  /** Who may use this node's relay service (undefined: it serves no relay). */
  serviceAllow?: RelayAllow
  log: Logger
}

export function relayGater(init: RelayGaterInit): ConnectionGater {
  const openRelay = init.serviceAllow === 'anyone'
  return {
    denyInboundRelayReservation: (peer) => {
      if (init.serviceAllow === undefined || openRelay || init.trusted(peer)) return false
      init.log(
        'relay: refused a reservation from %p (key not in the trust policy; relay.service.allow: trusted)',
        peer,
      )
      return true
    },
    denyOutboundRelayedConnection: (source, destination) => {
      if (openRelay) return false
      const stranger = [source, destination].find((peer) => !init.trusted(peer))
      if (stranger === undefined) return false
      init.log(
        'relay: refused to connect %p to %p (%p is not in the trust policy)',
        source,
        destination,
        stranger,
      )
      return true
    },
    denyInboundRelayedConnection: (relay, remote) => {
      if (init.isOwnRelay(relay)) return false
      init.log(
        "refused a relayed connection from %p through %p: not one of this node's relays",
        remote,
        relay,
      )
      return true
    },
  }
}
