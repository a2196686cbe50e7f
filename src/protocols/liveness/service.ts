import type { Logger, PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { trustedPublisher } from '../gossip/trusted-publisher.js'
import { type TopicPubSub, type TopicStats, ValidatedTopic } from '../gossip/validated-topic.js'
import { grantedClaims, type TrustPolicy } from '../jobs/trust-policy.js'
import {
  DEFAULT_FAST_MESH_NODES,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MISSED_HEARTBEATS,
  DEFAULT_PRESENCE_BUDGET_PER_SECOND,
  LIVENESS_TOPIC,
  MAX_HEARTBEAT_INTERVAL_MS,
} from './constants.js'
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './heartbeat.js'
import { heartbeatInterval } from './interval.js'

/** A peer as last heard on the liveness topic. */
export interface LivePeer extends Heartbeat {
  /** Receiver's clock when the last heartbeat arrived. */
  lastSeen: number
}

export interface LivenessEvents {
  'peer:alive': CustomEvent<LivePeer>
  'peer:lost': CustomEvent<LivePeer>
  /** A live peer announced other roles or capabilities (a runner that registered its kinds). */
  'peer:changed': CustomEvent<LivePeer>
}

export interface LivenessInit {
  pubsub: TopicPubSub
  peerId: PeerId
  log: Logger
  /** Called before each heartbeat for the current roles, capabilities and load. */
  status: () => Pick<Heartbeat, 'roles' | 'capabilities' | 'load' | 'addrs'>
  /** The shortest heartbeat interval (small meshes). @default 1_000 */
  intervalMs?: number
  /** @default 5 */
  missedHeartbeats?: number
  /** Heartbeats per second the whole mesh aims to send beyond `fastMeshNodes` (see `heartbeatInterval`). @default 1 */
  budgetPerSecond?: number
  /** Meshes of up to this many nodes heartbeat every `intervalMs`. @default 10 */
  fastMeshNodes?: number
  /** The longest heartbeat interval, sent or believed. @default 30_000 */
  maxIntervalMs?: number
  /**
   * The trust policy in force. When given, heartbeats of keys without an entry are dropped, and a
   * peer's claimed roles and capabilities are believed only as far as the policy grants them.
   * @default believe every heartbeat (a mesh without a policy)
   */
  policy?: () => TrustPolicy
}

/**
 * Announces this node on `horus/v1/liveness` and tracks who else is alive. Gossipsub's StrictSign
 * authenticates the publisher; the validator also requires the heartbeat to name that publisher,
 * so no node can speak for another. What the rest of the node sees (`alive`, `get`, events) is the
 * heartbeat as the current policy believes it: a key trusted only as a client is alive with no
 * role, a runner with only the capabilities it is trusted for. Views are filtered when read, so a
 * policy reload applies at once.
 */
export class LivenessService extends TypedEventEmitter<LivenessEvents> {
  private readonly peers = new Map<string, LivePeer>()
  private readonly believed = new WeakMap<LivePeer, { policy: TrustPolicy; view: LivePeer }>()
  private readonly intervalMs: number
  private readonly maxIntervalMs: number
  private readonly missed: number
  private readonly budgetPerSecond: number
  private readonly fastMeshNodes: number
  /** The interval announced in the last heartbeat: when the next one is due. */
  private currentIntervalMs: number
  private timer: NodeJS.Timeout | undefined
  /** The largest view of the last `maxIntervalMs × missed`, and when it was seen (see `beat`). */
  private highWater = { peers: 0, at: 0 }
  private checkTimer: NodeJS.Timeout | undefined
  private readonly topic: ValidatedTopic<Heartbeat>
  // Starts at the wall clock so a restarted node's heartbeats still outrank its previous ones.
  private seq = Date.now()

  constructor(private readonly init: LivenessInit) {
    super()
    this.intervalMs = init.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.maxIntervalMs = Math.max(this.intervalMs, init.maxIntervalMs ?? MAX_HEARTBEAT_INTERVAL_MS)
    this.missed = init.missedHeartbeats ?? DEFAULT_MISSED_HEARTBEATS
    this.budgetPerSecond = init.budgetPerSecond ?? DEFAULT_PRESENCE_BUDGET_PER_SECOND
    this.fastMeshNodes = init.fastMeshNodes ?? DEFAULT_FAST_MESH_NODES
    this.currentIntervalMs = this.intervalMs
    const { policy } = init
    this.topic = new ValidatedTopic({
      pubsub: init.pubsub,
      topic: LIVENESS_TOPIC,
      ...(policy === undefined ? {} : { publisher: trustedPublisher(policy) }),
      decode: (data, from) => {
        const heartbeat = decodeHeartbeat(data)
        return heartbeat?.peerId === from ? heartbeat : undefined
      },
      // An old heartbeat re-gossiped late is harmless but useless: drop it without penalty.
      ignore: (heartbeat) => (this.isStale(heartbeat) ? 'stale' : undefined),
      deliver: (heartbeat) => this.record(heartbeat),
      // To the gossip mesh (D peers, topped up while smaller), not to every peer on the topic: the
      // publisher's own copies go to ~6 peers instead of all it is connected to (16-20 at N = 25).
      floodPublish: false,
    })
  }

  start(): void {
    this.topic.start()
    // Losses are checked at the shortest interval whatever this node's own heartbeat rate.
    this.checkTimer = setInterval(() => this.checkLost(), this.intervalMs)
    this.checkTimer.unref()
    this.beat()
  }

  stop(): void {
    clearInterval(this.checkTimer)
    clearTimeout(this.timer)
    this.checkTimer = undefined
    this.timer = undefined
    this.topic.stop()
  }

  /** The interval this node heartbeats at now (grows with the mesh, see `heartbeatInterval`). */
  get heartbeatIntervalMs(): number {
    return this.currentIntervalMs
  }

  /** Peers heard from within the liveness window, as the policy in force believes them. */
  alive(): LivePeer[] {
    const out: LivePeer[] = []
    for (const peer of this.peers.values()) {
      const view = this.believe(peer)
      if (view !== undefined) out.push(view)
    }
    return out
  }

  get(peerId: string): LivePeer | undefined {
    const peer = this.peers.get(peerId)
    return peer === undefined ? undefined : this.believe(peer)
  }

  /** What the validator did with heartbeats (accepted, rejected and ignored by reason). */
  stats(): TopicStats {
    return this.topic.stats()
  }

  /** The heartbeat cut to what the policy grants; `undefined` once the key lost its entry. */
  private believe(peer: LivePeer): LivePeer | undefined {
    const getPolicy = this.init.policy
    if (getPolicy === undefined) return peer
    const policy = getPolicy()
    const cached = this.believed.get(peer)
    if (cached?.policy === policy) return cached.view
    const entry = policy.lookupPeer(peer.peerId)
    if (entry === undefined) return undefined
    const view: LivePeer = { ...peer, ...grantedClaims(entry, peer) }
    this.believed.set(peer, { policy, view })
    return view
  }

  private isStale(heartbeat: Heartbeat): boolean {
    const known = this.peers.get(heartbeat.peerId)
    return known !== undefined && heartbeat.seq <= known.seq
  }

  private record(heartbeat: Heartbeat): void {
    if (this.isStale(heartbeat)) return
    const known = this.peers.get(heartbeat.peerId)
    const peer: LivePeer = { ...heartbeat, lastSeen: Date.now() }
    this.peers.set(peer.peerId, peer)
    if (known === undefined) {
      const view = this.believe(peer)
      if (view !== undefined) this.safeDispatchEvent('peer:alive', { detail: view })
      return
    }
    // A node may heartbeat before its roles have registered what they serve: say when that changes.
    if (sameClaims(known, peer)) return
    const view = this.believe(peer)
    if (view !== undefined) this.safeDispatchEvent('peer:changed', { detail: view })
  }

  /**
   * How long after its last heartbeat a peer is lost: `missedHeartbeats` of the interval it
   * announced, kept within this node's bounds (a peer cannot stay alive forever by announcing a
   * long interval, nor be lost early by announcing a short one).
   */
  private lostAfterMs(peer: LivePeer): number {
    const announced = peer.intervalMs ?? this.intervalMs
    return this.missed * Math.min(this.maxIntervalMs, Math.max(this.intervalMs, announced))
  }

  private checkLost(): void {
    const now = Date.now()
    for (const [id, peer] of this.peers) {
      if (now - peer.lastSeen > this.lostAfterMs(peer)) {
        this.peers.delete(id)
        this.init.log('peer %s lost: no heartbeat for %d ms', id, now - peer.lastSeen)
        this.safeDispatchEvent('peer:lost', {
          detail: this.believe(peer) ?? { ...peer, roles: [], capabilities: [] },
        })
      }
    }
  }

  /**
   * The mesh size the heartbeat interval is spaced by: the largest view of the last loss window,
   * not the view now. A node starved of CPU (or cut off for a moment) loses peers from its view;
   * spacing by that smaller view would make it heartbeat faster just when the mesh can least take
   * it, and every starved node doing so at once feeds the starvation (measured at N = 50 on two
   * cores: event-loop delay of seconds, a thousand peers lost in two minutes).
   */
  private meshSize(now: number): number {
    const size = this.peers.size
    const window = this.missed * this.maxIntervalMs
    if (size >= this.highWater.peers || now - this.highWater.at > window)
      this.highWater = { peers: size, at: now }
    return this.highWater.peers
  }

  private beat(): void {
    this.checkLost()
    const next = heartbeatInterval({
      peers: this.meshSize(Date.now()),
      budgetPerSecond: this.budgetPerSecond,
      fastMeshNodes: this.fastMeshNodes,
      minMs: this.intervalMs,
      maxMs: this.maxIntervalMs,
    })
    this.currentIntervalMs = next
    const heartbeat: Heartbeat = {
      peerId: this.init.peerId.toString(),
      ...this.init.status(),
      seq: ++this.seq,
      sentAt: Date.now(),
      intervalMs: next,
    }
    this.topic.publish(encodeHeartbeat(heartbeat), (err) => {
      this.init.log('heartbeat not published: %s', err.message)
    })
    this.timer = setTimeout(() => this.beat(), next)
    this.timer.unref()
  }
}

function sameClaims(a: Heartbeat, b: Heartbeat): boolean {
  return a.roles.join(',') === b.roles.join(',') && a.capabilities.join(',') === b.capabilities.join(',')
}
