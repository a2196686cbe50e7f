import type { GossipSub, MeshPeer } from '@libp2p/gossipsub'
import { type Connection, KEEP_ALIVE, type Libp2p, type Logger } from '@libp2p/interface'
import { TRIM_GRACE_MS, TRIM_INTERVAL_MS } from './constants.js'

/** Streams that do not keep a connection open: the mesh's own housekeeping. */
const HOUSEKEEPING_PROTOCOL = /^\/(ipfs\/id|ipfs\/ping|meshsub|floodsub|horus\/kad)\//

export type TrimmerPubSub = Pick<GossipSub, 'addEventListener' | 'removeEventListener'>

export interface ConnectionTrimmerInit {
  libp2p: Pick<Libp2p, 'getConnections' | 'peerStore'>
  pubsub: TrimmerPubSub
  log: Logger
  /** Connections kept once trimmed (peers whose connections are in use may keep it above). */
  target: number
  /** Peers never trimmed: the bootstrap peers a node rejoins through. */
  keep: () => ReadonlySet<string>
}

/**
 * Keeps a node's connections near a target count, so they stay in the tens whatever the size of
 * the mesh. Without it every connection a DHT query opens stays open for good (gossipsub opens a
 * stream on each, and libp2p's pruner never closes a connection with a gossipsub stream, nor any
 * to a loopback address), and after a few queries a node is connected to most of the mesh.
 *
 * Every few seconds, while above the target, it closes the connections that carry nothing but
 * housekeeping streams (identify, ping, gossipsub, DHT), oldest first, sparing: the peers of this
 * node's gossipsub meshes (gossip flows through them), the bootstrap peers, peers tagged keep-alive
 * (the DHT's 20 closest peers, which libp2p redials when they disconnect), and connections younger
 * than a grace period (a query or a dial that just opened it is still using it). A peer in use by
 * a Horus protocol (RPC, job dispatch, sync) has a stream of that protocol open and is kept.
 */
export class ConnectionTrimmer {
  private timer: NodeJS.Timeout | undefined
  private trimmed = 0
  /** Gossip mesh peers and the topics they are grafted on (from gossipsub's graft/prune events). */
  private readonly meshPeers = new Map<string, Set<string>>()

  constructor(private readonly init: ConnectionTrimmerInit) {}

  start(): void {
    this.init.pubsub.addEventListener('gossipsub:graft', this.onGraft)
    this.init.pubsub.addEventListener('gossipsub:prune', this.onPrune)
    this.timer = setInterval(() => {
      this.trim().catch((err: unknown) => this.init.log.error('trimming connections failed: %e', err))
    }, TRIM_INTERVAL_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.init.pubsub.removeEventListener('gossipsub:graft', this.onGraft)
    this.init.pubsub.removeEventListener('gossipsub:prune', this.onPrune)
    this.meshPeers.clear()
  }

  private readonly onGraft = (evt: CustomEvent<MeshPeer>): void => {
    const topics = this.meshPeers.get(evt.detail.peerId) ?? new Set<string>()
    topics.add(evt.detail.topic)
    this.meshPeers.set(evt.detail.peerId, topics)
  }

  private readonly onPrune = (evt: CustomEvent<MeshPeer>): void => {
    const topics = this.meshPeers.get(evt.detail.peerId)
    topics?.delete(evt.detail.topic)
    if (topics?.size === 0) this.meshPeers.delete(evt.detail.peerId)
  }

  /** Connections closed so far. */
  get closed(): number {
    return this.trimmed
  }

  /** One pass; returns the connections it closed. */
  async trim(now = Date.now()): Promise<Connection[]> {
    const connections = this.init.libp2p.getConnections()
    const excess = connections.length - this.init.target
    if (excess <= 0) return []
    const spared = this.sparedPeers()
    const idle = connections
      .filter(
        (conn) =>
          !spared.has(conn.remotePeer.toString()) &&
          now - conn.timeline.open >= TRIM_GRACE_MS &&
          conn.streams.every((stream) => HOUSEKEEPING_PROTOCOL.test(stream.protocol ?? '')),
      )
      .sort((a, b) => a.timeline.open - b.timeline.open)
    const candidates: Connection[] = []
    for (const conn of idle) {
      if (candidates.length >= excess) break
      // Closing a keep-alive peer would only make libp2p dial it again.
      if (!(await this.keptAlive(conn))) candidates.push(conn)
    }
    for (const conn of candidates) {
      conn.close().catch((err: unknown) => {
        conn.abort(err instanceof Error ? err : new Error(String(err)))
      })
    }
    if (candidates.length > 0) {
      this.trimmed += candidates.length
      this.init.log(
        'closed %d idle connection(s) of %d (target %d)',
        candidates.length,
        connections.length,
        this.init.target,
      )
    }
    return candidates
  }

  private async keptAlive(conn: Connection): Promise<boolean> {
    try {
      const peer = await this.init.libp2p.peerStore.get(conn.remotePeer)
      return [...peer.tags.keys()].some((tag) => tag.startsWith(KEEP_ALIVE))
    } catch {
      return false
    }
  }

  private sparedPeers(): Set<string> {
    const spared = new Set(this.init.keep())
    for (const peer of this.meshPeers.keys()) spared.add(peer)
    return spared
  }
}
