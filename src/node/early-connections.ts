/**
 * Connections opened while libp2p was still starting, told to the services that started later.
 *
 * A service that follows a protocol (the DHT's routing table, AutoNAT, the relay transport, DCUtR)
 * registers a topology in its `start()` and hears of a peer only from the `peer:identify` event
 * that follows a connection; libp2p's registrar does not replay it to a topology registered after
 * the fact. libp2p starts its services all at once, and the bootstrap discovery dials its peers on
 * the first timer tick, while slower services are still starting: the DHT's start waits on the
 * peer store's lock behind every service that registers a protocol (the NAT services added four).
 * When the bootstrap peer answers first, the DHT never learns of it: a node that knows only its
 * bootstrap peer keeps an empty routing table for good, and none of its own lookups reach anyone
 * (seen across OS processes: c, bootstrapped from a, never found the provider record a held).
 *
 * Once every service has started, identifying those connections again emits `peer:identify` for
 * each, so every topology hears of the peers it missed (a topology that already has the peer
 * ignores the repeat). It costs one identify round trip per connection opened during start.
 */

import type { Identify } from '@libp2p/identify'
import type { Libp2p, Logger } from '@libp2p/interface'
import { boundedCall } from '../core/bounded-call.js'

/** How long one repeated identify may take before it is given up. @default 10_000 */
export const REIDENTIFY_TIMEOUT_MS = 10_000

/** Identifies again every connection open now; resolves when all have answered or failed. */
export async function reidentifyEarlyConnections(
  libp2p: Pick<Libp2p<{ identify: Identify }>, 'getConnections' | 'services'>,
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const early = libp2p.getConnections().filter((c) => c.status === 'open')
  await Promise.all(
    early.map(async (connection) => {
      try {
        await boundedCall(signal, REIDENTIFY_TIMEOUT_MS, (bounded) =>
          libp2p.services.identify.identify(connection, { signal: bounded }),
        )
        log('identified %p again: its connection opened while libp2p was starting', connection.remotePeer)
      } catch (err) {
        // The connection closed meanwhile, or the peer is slow: its next connection is identified
        // the ordinary way, every service listening by then.
        log('identifying %p again failed: %s', connection.remotePeer, (err as Error).message)
      }
    }),
  )
}
