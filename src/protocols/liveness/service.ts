import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { type TopicPubSub, ValidatedTopic } from '../gossip/validated-topic.js'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_MISSED_HEARTBEATS, LIVENESS_TOPIC } from './constants.js'
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './heartbeat.js'

/** A peer as last heard on the liveness topic. */
export interface LivePeer extends Heartbeat {
  /** Receiver's clock when the last heartbeat arrived. */
  lastSeen: number
}

export interface LivenessEvents {
  'peer:alive': CustomEvent<LivePeer>
  'peer:lost': CustomEvent<LivePeer>
}

export interface LivenessInit {
  pubsub: TopicPubSub
  peerId: PeerId
  log: Logger
  /** Called before each heartbeat for the current roles, capabilities and load. */
  status: () => Pick<Heartbeat, 'roles' | 'capabilities' | 'load'>
  /** @default 1_000 */
  intervalMs?: number
  /** @default 5 */
  missedHeartbeats?: number
}

/**
 * Announces this node on `horus/v1/liveness` and tracks who else is alive. Gossipsub's StrictSign
 * authenticates the publisher; the validator also requires the heartbeat to name that publisher,
 * so no node can speak for another.
 */
export class LivenessService extends TypedEventEmitter<LivenessEvents> {
  private readonly peers = new Map<string, LivePeer>()
  private readonly intervalMs: number
  private readonly lostAfterMs: number
  private timer: NodeJS.Timeout | undefined
  private readonly topic: ValidatedTopic<Heartbeat>
  // Starts at the wall clock so a restarted node's heartbeats still outrank its previous ones.
  private seq = Date.now()

  constructor(private readonly init: LivenessInit) {
    super()
    this.intervalMs = init.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.lostAfterMs = this.intervalMs * (init.missedHeartbeats ?? DEFAULT_MISSED_HEARTBEATS)
    this.topic = new ValidatedTopic({
      pubsub: init.pubsub,
      topic: LIVENESS_TOPIC,
      decode: (data, from) => {
        const heartbeat = decodeHeartbeat(data)
        return heartbeat?.peerId === from ? heartbeat : undefined
      },
      // An old heartbeat re-gossiped late is harmless but useless: drop it without penalty.
      admit: (heartbeat) =>
        this.isStale(heartbeat) ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept,
      deliver: (heartbeat) => this.record(heartbeat),
    })
  }

  start(): void {
    this.topic.start()
    this.timer = setInterval(() => this.tick(), this.intervalMs)
    this.timer.unref()
    this.tick()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.topic.stop()
  }

  /** Peers heard from within the liveness window. */
  alive(): LivePeer[] {
    return [...this.peers.values()]
  }

  get(peerId: string): LivePeer | undefined {
    return this.peers.get(peerId)
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
    if (known === undefined) this.safeDispatchEvent('peer:alive', { detail: peer })
  }

  private tick(): void {
    const now = Date.now()
    for (const [id, peer] of this.peers) {
      if (now - peer.lastSeen > this.lostAfterMs) {
        this.peers.delete(id)
        this.init.log('peer %s lost: no heartbeat for %d ms', id, now - peer.lastSeen)
        this.safeDispatchEvent('peer:lost', { detail: peer })
      }
    }
    const heartbeat: Heartbeat = {
      peerId: this.init.peerId.toString(),
      ...this.init.status(),
      seq: ++this.seq,
      sentAt: now,
    }
    this.topic.publish(encodeHeartbeat(heartbeat), (err) => {
      this.init.log('heartbeat not published: %s', err.message)
    })
  }
}
