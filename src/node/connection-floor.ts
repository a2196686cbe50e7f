import type { Libp2p, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { boundedCall } from '../core/bounded-call.js'
import {
  CONNECTION_FLOOR_BACKOFF_MS,
  CONNECTION_FLOOR_DIALS_PER_TICK,
  RECONNECT_DIAL_TIMEOUT_MS,
} from './constants.js'
import { announced } from './heard-addrs.js'

/** A peer this node hears, with the addresses its heartbeats announce. */
export interface FloorCandidate {
  peerId: string
  addrs?: string[] | undefined
}

export interface ConnectionFloorInit {
  libp2p: Pick<Libp2p, 'getConnections' | 'dial' | 'peerId'>
  log: Logger
  /** Connections a node keeps at least, while it hears enough peers. */
  floor: number
  /** The peers this node hears now (alive and trusted, from heartbeats), with their addresses. */
  peers: () => Iterable<FloorCandidate>
  /** Peers not dialled to fill the floor (the bootstrap peers, which every new node leans on). */
  skip: () => ReadonlySet<string>
}

/**
 * Keeps a node connected to at least `floor` peers, so its gossip meshes can reach their degree.
 *
 * Gossipsub grafts only peers it is connected to and dials only the peers a prune names (peer
 * exchange, believed from bootstrap peers alone), and libp2p 3 no longer dials towards a minimum. So the connections a node has are those its
 * bootstrap dial and its DHT queries happened to leave open, which in a mesh started together is
 * often its bootstrap peers and one or two others (measured at N = 20: 3 connections, and 3 peers
 * in the peer store, for 16 of the 20 nodes). The bootstrap peers, connected to everyone, keep at
 * most a dozen in their meshes and prune the rest, so such a node sits in a gossip mesh of one or
 * two peers (2.4 on average at N = 50, some nodes none) and gossip reaches it late or not at all
 * (at N = 50 most nodes got 5 of 20 messages); and each time a bootstrap peer trims it, it dials
 * that peer back (it has too few connections to do without): an endless trim-redial churn.
 *
 * Each tick, below the floor, it dials a few peers the node hears heartbeats from, at the
 * addresses those heartbeats announce, picked at random so the mesh does not converge on a few
 * hubs, never the bootstrap peers; a peer that could not be dialled waits CONNECTION_FLOOR_BACKOFF_MS.
 */
export class ConnectionFloor {
  private readonly dialing = new Set<string>()
  private readonly failedAt = new Map<string, number>()
  private readonly dials = new Set<Promise<void>>()

  constructor(private readonly init: ConnectionFloorInit) {}

  /** Dials towards the floor; returns how many dials it started. */
  fill(signal: AbortSignal, now = Date.now()): number {
    const { libp2p } = this.init
    const connections = libp2p.getConnections()
    const missing = this.init.floor - connections.length - this.dialing.size
    if (missing <= 0 || signal.aborted) return 0
    const connected = new Set(connections.map((c) => c.remotePeer.toString()))
    const skip = this.init.skip()
    const self = libp2p.peerId.toString()
    const candidates: { peerId: string; addrs: Multiaddr[] }[] = []
    for (const peer of this.init.peers()) {
      const id = peer.peerId
      if (id === self || connected.has(id) || skip.has(id) || this.dialing.has(id)) continue
      if (now - (this.failedAt.get(id) ?? Number.NEGATIVE_INFINITY) < CONNECTION_FLOOR_BACKOFF_MS) continue
      const addrs = dialable(id, peer.addrs ?? [])
      if (addrs.length > 0) candidates.push({ peerId: id, addrs })
    }
    const picked = shuffle(candidates).slice(0, Math.min(missing, CONNECTION_FLOOR_DIALS_PER_TICK))
    for (const peer of picked) this.dial(peer.peerId, peer.addrs, signal)
    return picked.length
  }

  /** Waits for the dials under way (on stop, after the signal was aborted). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.dials])
  }

  private dial(id: string, addrs: Multiaddr[], signal: AbortSignal): void {
    this.dialing.add(id)
    const dial = boundedCall(signal, RECONNECT_DIAL_TIMEOUT_MS, (bounded) =>
      this.init.libp2p.dial(addrs, { signal: bounded }),
    )
      .then(
        () => {
          this.failedAt.delete(id)
        },
        (err: Error) => {
          if (signal.aborted) return
          this.failedAt.set(id, Date.now())
          this.init.log('floor: could not dial %s: %s', id, err.message)
        },
      )
      .finally(() => {
        this.dialing.delete(id)
        this.dials.delete(dial)
      })
    this.dials.add(dial)
  }
}

/** The announced addresses as full multiaddrs of `peerId`; ones that do not parse are left out. */
function dialable(peerId: string, addrs: string[]): Multiaddr[] {
  return announced(addrs).map((addr) => addr.encapsulate(`/p2p/${peerId}`))
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j] as T, items[i] as T]
  }
  return items
}
