/**
 * What a node says about its NAT traversal (`node.nat`, the `reachability` check of `node.health`,
 * `horus node status`): reachability, its reservations and relays, and its own relay service.
 */
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { AnyMethodDefinition } from '../../protocols/rpc/registry.js'
import type { RelayAllow, RelayConfig, RelayLimits } from '../config/types.js'
import type { NatService, NatStatus } from './nat-service.js'

/** A relay's first attempt takes a moment after start; no alarm before this. @default 10_000 */
export const NAT_SETTLE_MS = 10_000

export interface RelayServiceStatus {
  allow: RelayAllow
  /** Reservations held on this relay now. */
  reservations: number
  /** Peer IDs of the nodes holding them. */
  holders: string[]
  maxReservations: number
  reservationTtlMs: number
  /** Per relayed connection; absent: unlimited. */
  limits?: RelayLimits
}

export interface NodeNatStatus extends NatStatus {
  /** Present when the node serves as a relay. */
  service?: RelayServiceStatus
}

export function nodeNatStatus(
  nat: NatService,
  relay: CircuitRelayService | undefined,
  config: RelayConfig,
): NodeNatStatus {
  const status = nat.status()
  const service = config.service
  if (service === undefined || relay === undefined) return status
  return {
    ...status,
    service: {
      allow: service.allow,
      reservations: relay.reservations.size,
      holders: [...relay.reservations.keys()].map((peer) => peer.toString()),
      maxReservations: service.maxReservations,
      reservationTtlMs: service.reservationTtlMs,
      ...(service.limits === undefined ? {} : { limits: service.limits }),
    },
  }
}

/**
 * The `reachability` check: `public (…)`, `private; reachable through relay 12D3…`, or — degraded —
 * a node that wants a relay, has relays to use, and holds no reservation on any (after the first
 * attempts had their chance): peers outside its network cannot reach it.
 */
export function reachabilityCheck(status: NatStatus, uptimeMs: number): { text: string; degraded: boolean } {
  if (status.reachability === 'public') return { text: `public (${status.reason})`, degraded: false }
  if (!status.wantsRelays || status.relays.length === 0)
    return { text: `${status.reachability} (${status.reason})`, degraded: false }
  if (status.reservations.length > 0) {
    const relays = status.reservations.map((r) => r.relay).join(', ')
    return { text: `${status.reachability}; reachable through relay ${relays}`, degraded: false }
  }
  const failed = status.relays.some((r) => r.failures > 0)
  const why = status.relays
    .map((r) =>
      r.error !== undefined
        ? `${r.peerId}: ${r.error}`
        : `${r.peerId}: ${r.connected ? 'reserving' : 'not connected'}`,
    )
    .join('; ')
  return {
    text: `${status.reachability}; no relay reservation, peers outside its network cannot reach it (${why})`,
    degraded: failed || uptimeMs > NAT_SETTLE_MS,
  }
}

const NAT_SCHEMA = {
  type: 'object',
  required: ['reachability', 'reason', 'publicAddrs', 'reserve', 'wantsRelays', 'reservations', 'relays'],
  properties: {
    reachability: {
      enum: ['public', 'private', 'unknown'],
      description: 'reachable from the internet at a direct address (AutoNAT)',
    },
    reason: { type: 'string' },
    publicAddrs: { type: 'array', items: { type: 'string' } },
    reserve: { enum: ['auto', 'always', 'never'] },
    wantsRelays: { type: 'boolean' },
    reservations: {
      type: 'array',
      items: {
        type: 'object',
        properties: { relay: { type: 'string' }, addrs: { type: 'array', items: { type: 'string' } } },
      },
    },
    relays: { type: 'array', items: { type: 'object' } },
    service: { type: 'object' },
  },
}

export function natMethods(status: () => NodeNatStatus): AnyMethodDefinition[] {
  return [
    {
      name: 'node.nat',
      summary:
        'NAT traversal: whether this node is publicly reachable (AutoNAT), the relays it holds reservations on, and its own relay service.',
      role: 'node',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: NAT_SCHEMA,
      resultName: 'nat',
      handler: () => status(),
    },
  ]
}
