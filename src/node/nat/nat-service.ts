/**
 * A node's side of NAT traversal, as a libp2p service beside libp2p's own parts (circuit relay
 * transport, AutoNAT, DCUtR):
 * - reachability: what AutoNAT concluded about the node's addresses (reachability.ts);
 * - reservations: while the node is not publicly reachable (`relay.reserve: auto`), it holds slots
 *   on up to `relay.maxRelays` relays it chose — its `relay.peers`, bootstrap peers that offer the
 *   relay service, then keys of its trust policy that do — never on a relay a stranger offered.
 *   A slot is reserved by listening on `<relay addr>/p2p-circuit`: libp2p's transport then
 *   announces the `/p2p-circuit` addresses (identify push tells connected peers at once) and
 *   refreshes the slot before it expires. A reservation lives as long as the connection to the
 *   relay; when it is lost the node reserves again as soon as the relay (or another) is back.
 * - a guard on the relay "stop" protocol: libp2p answers a stop request from a relay it holds no
 *   reservation on by reserving there; only the node's own relays may send one.
 */
import type {
  ComponentLogger,
  Connection,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  Startable,
  StreamHandler,
} from '@libp2p/interface'
import type {
  AddressManager,
  ConnectionManager,
  Registrar,
  TransportManager,
} from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TypedEventTarget } from 'main-event'
import type { RelayReserve } from '../config/types.js'
import { RELAY_RETRY_MAX_MS, RELAY_RETRY_MIN_MS } from '../constants.js'
import { isCircuit, relayOf } from './circuit-addrs.js'
import { NAT_TICK_MS, RELAY_HOP_PROTOCOL, RELAY_STOP_PROTOCOL } from './constants.js'
import { type ReachabilityView, reachabilityOf } from './reachability.js'
import { describeReservationError } from './reservation-errors.js'

/** How the node came to consider a peer as its relay, in order of preference. */
export type RelaySource = 'configured' | 'bootstrap' | 'trusted'

export interface RelayView {
  peerId: string
  source: RelaySource
  /** A direct (not relayed) connection to it is open. */
  connected: boolean
  /** It offers the relay service (seen through identify); undefined until identified. */
  offersRelay?: boolean
  /** This node's `/p2p-circuit` addresses through it, when it holds a reservation there. */
  addrs: string[]
  /** Failed reservation attempts since the last success. */
  failures: number
  /** Why the last attempt failed, in words. */
  error?: string
  /** When the next attempt may be made (ms epoch), after a failure. */
  nextAttemptAt?: number
}

export interface NatStatus extends ReachabilityView {
  reserve: RelayReserve
  /** The node wants relay reservations now (`reserve: always`, or `auto` and not public). */
  wantsRelays: boolean
  /** Relays this node holds a reservation on, with its addresses through each. */
  reservations: Array<{ relay: string; addrs: string[] }>
  /** Every relay it may use, reserved or not. */
  relays: RelayView[]
}

export interface NatServiceInit {
  reserve: RelayReserve
  maxRelays: number
  /** Peer IDs of `relay.peers`. */
  relayPeers: readonly string[]
  /** Peer IDs of the bootstrap peers. */
  bootstrapPeers: readonly string[]
  /** Whether the key is in the node's trust policy now. */
  trusted(peerId: PeerId): boolean
  /** Whether the node accepts the peer as its relay (ownRelays()). */
  isOwnRelay(peerId: PeerId): boolean
}

export interface NatServiceComponents {
  peerId: PeerId
  addressManager: AddressManager
  transportManager: TransportManager
  connectionManager: ConnectionManager
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

interface RelayState {
  peerId: PeerId
  source: RelaySource
  offersRelay: boolean | undefined
  failures: number
  nextAttemptAt: number
  error: string | undefined
  reserving: boolean
}

const SOURCE_ORDER: Record<RelaySource, number> = { configured: 0, bootstrap: 1, trusted: 2 }

export class NatService implements Startable {
  private readonly components: NatServiceComponents
  private readonly init: NatServiceInit
  private readonly log: Logger
  private readonly relays = new Map<string, RelayState>()
  private readonly attempts = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | undefined
  private scheduled = false
  private running = false

  constructor(components: NatServiceComponents, init: NatServiceInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('horus:nat')
  }

  readonly [Symbol.toStringTag] = '@horus/nat'

  isStarted(): boolean {
    return this.running
  }

  async start(): Promise<void> {
    this.running = true
    for (const id of this.init.bootstrapPeers) this.consider(id, 'bootstrap')
    // `relay.peers` last: a peer both configured and bootstrap counts as configured.
    for (const id of this.init.relayPeers) this.consider(id, 'configured')
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('connection:open', this.schedule)
    this.components.events.addEventListener('connection:close', this.schedule)
    this.components.events.addEventListener('self:peer:update', this.schedule)
    this.timer = setInterval(() => this.tick(), NAT_TICK_MS)
    this.timer.unref()
  }

  /** The transport registered its stop handler in its own start(); guard it now. */
  async afterStart(): Promise<void> {
    const { handler, options } = this.components.registrar.getHandler(RELAY_STOP_PROTOCOL)
    const guarded: StreamHandler = (stream, connection) => {
      if (this.init.isOwnRelay(connection.remotePeer)) return handler(stream, connection)
      this.log("refused a relay stop request from %p: not one of this node's relays", connection.remotePeer)
      stream.abort(new Error("not one of this node's relays"))
    }
    await this.components.registrar.handle(RELAY_STOP_PROTOCOL, guarded, { ...options, force: true })
    this.tick()
  }

  async stop(): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('connection:open', this.schedule)
    this.components.events.removeEventListener('connection:close', this.schedule)
    this.components.events.removeEventListener('self:peer:update', this.schedule)
    await Promise.allSettled([...this.attempts])
  }

  reachability(): ReachabilityView {
    return reachabilityOf(this.components.addressManager.getAddressesWithMetadata())
  }

  status(): NatStatus {
    const reachability = this.reachability()
    const held = this.heldReservations()
    // Bootstrap peers and trusted keys count as relays once they say they offer the service.
    const relays = [...this.relays.values()]
      .filter((r) => r.source === 'configured' || r.offersRelay === true)
      .sort((a, b) => SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source])
    return {
      ...reachability,
      reserve: this.init.reserve,
      wantsRelays: this.wantsRelays(reachability),
      reservations: [...held].map(([relay, addrs]) => ({ relay, addrs })),
      relays: relays.map((relay) => {
        const id = relay.peerId.toString()
        const failures = held.has(id) ? 0 : relay.failures
        return {
          peerId: id,
          source: relay.source,
          connected: this.directConnection(relay.peerId) !== undefined,
          ...(relay.offersRelay === undefined ? {} : { offersRelay: relay.offersRelay }),
          addrs: held.get(id) ?? [],
          failures,
          ...(failures > 0 && relay.error !== undefined ? { error: relay.error } : {}),
          ...(failures > 0 ? { nextAttemptAt: relay.nextAttemptAt } : {}),
        }
      }),
    }
  }

  private wantsRelays(view: ReachabilityView): boolean {
    if (this.init.reserve === 'never') return false
    return this.init.reserve === 'always' || view.reachability !== 'public'
  }

  /** Relay peer ID → this node's circuit addresses through it, from the addresses it announces. */
  private heldReservations(): Map<string, string[]> {
    const held = new Map<string, string[]>()
    for (const ma of this.components.addressManager.getAddresses()) {
      const relay = relayOf(ma)
      if (relay === undefined) continue
      held.set(relay, [...(held.get(relay) ?? []), ma.toString()])
    }
    return held
  }

  private consider(id: string, source: RelaySource, peerId?: PeerId): RelayState | undefined {
    const existing = this.relays.get(id)
    if (existing !== undefined) {
      if (SOURCE_ORDER[source] < SOURCE_ORDER[existing.source]) existing.source = source
      return existing
    }
    let pid = peerId
    if (pid === undefined) {
      const conn = this.components.connectionManager
        .getConnections()
        .find((c) => c.remotePeer.toString() === id)
      pid = conn?.remotePeer ?? parsePeerId(id)
    }
    if (pid === undefined || pid.equals(this.components.peerId)) return undefined
    const state: RelayState = {
      peerId: pid,
      source,
      offersRelay: undefined,
      failures: 0,
      nextAttemptAt: 0,
      error: undefined,
      reserving: false,
    }
    this.relays.set(id, state)
    return state
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = evt.detail
    const offersRelay = protocols.includes(RELAY_HOP_PROTOCOL)
    const id = peerId.toString()
    let state = this.relays.get(id)
    if (state === undefined && offersRelay && this.init.trusted(peerId))
      state = this.consider(id, 'trusted', peerId)
    if (state === undefined) return
    state.offersRelay = offersRelay
    this.schedule()
  }

  private readonly schedule = (): void => {
    if (this.scheduled || !this.running) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.tick()
    })
  }

  private tick(): void {
    if (!this.running || !this.wantsRelays(this.reachability())) return
    const held = this.heldReservations()
    const now = Date.now()
    let pending = [...this.relays.values()].filter((r) => r.reserving).length
    const candidates = [...this.relays.values()]
      .filter((r) => r.offersRelay === true && !r.reserving && !held.has(r.peerId.toString()))
      .filter((r) => r.nextAttemptAt <= now)
      .sort((a, b) => SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source])
    for (const relay of candidates) {
      if (held.size + pending >= this.init.maxRelays) return
      const conn = this.directConnection(relay.peerId)
      if (conn === undefined) continue
      pending++
      this.reserve(relay, conn)
    }
  }

  private directConnection(peer: PeerId): Connection | undefined {
    return this.components.connectionManager
      .getConnections(peer)
      .find((c) => c.status === 'open' && !isCircuit(c.remoteAddr))
  }

  private reserve(relay: RelayState, conn: Connection): void {
    relay.reserving = true
    const addr = withPeer(conn.remoteAddr, relay.peerId).encapsulate('/p2p-circuit')
    const attempt = this.components.transportManager
      .listen([addr])
      .then(
        () => {
          this.log('reserved a slot on relay %p (%s)', relay.peerId, relay.source)
          relay.failures = 0
          relay.error = undefined
          relay.nextAttemptAt = 0
        },
        (err: Error) => {
          relay.failures++
          relay.error = describeReservationError(err)
          const backoff = Math.min(RELAY_RETRY_MAX_MS, RELAY_RETRY_MIN_MS * 2 ** (relay.failures - 1))
          relay.nextAttemptAt = Date.now() + backoff
          this.log.error(
            'no reservation on relay %p (%d): %s; next attempt in %d ms',
            relay.peerId,
            relay.failures,
            relay.error,
            backoff,
          )
        },
      )
      .finally(() => {
        relay.reserving = false
        this.attempts.delete(attempt)
        this.schedule()
      })
    this.attempts.add(attempt)
  }
}

/** `addr` ending in `/p2p/<peer>` (a connection's remote address may lack it). */
function withPeer(addr: Multiaddr, peer: PeerId): Multiaddr {
  const last = addr.getComponents().at(-1)
  return last?.name === 'p2p' ? addr : addr.encapsulate(`/p2p/${peer.toString()}`)
}

function parsePeerId(id: string): PeerId | undefined {
  try {
    return peerIdFromString(id)
  } catch {
    return undefined
  }
}

/**
 * The relays a node accepts: its `relay.peers`, its bootstrap peers, and keys of its trust policy
 * (read at each call: the policy can be reloaded).
 */
export function ownRelays(
  named: readonly string[],
  trusted: (peer: PeerId) => boolean,
): (peer: PeerId) => boolean {
  const ids = new Set(named)
  return (peer) => ids.has(peer.toString()) || trusted(peer)
}

export function natService(init: NatServiceInit): (components: NatServiceComponents) => NatService {
  return (components) => new NatService(components, init)
}
