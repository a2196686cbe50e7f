import { type GossipSub, type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
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
  pubsub: GossipSub
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
  // Starts at the wall clock so a restarted node's heartbeats still outrank its previous ones.
  private seq = Date.now()

  constructor(private readonly init: LivenessInit) {
    super()
    this.intervalMs = init.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.lostAfterMs = this.intervalMs * (init.missedHeartbeats ?? DEFAULT_MISSED_HEARTBEATS)
  }

  start(): void {
    const { pubsub } = this.init
    pubsub.topicValidators.set(LIVENESS_TOPIC, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(LIVENESS_TOPIC)
    this.timer = setInterval(() => this.tick(), this.intervalMs)
    this.timer.unref()
    this.tick()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    const { pubsub } = this.init
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(LIVENESS_TOPIC)
    pubsub.unsubscribe(LIVENESS_TOPIC)
  }

  /** Peers heard from within the liveness window. */
  alive(): LivePeer[] {
    return [...this.peers.values()]
  }

  get(peerId: string): LivePeer | undefined {
    return this.peers.get(peerId)
  }

  private readonly validate = (_from: PeerId, message: Message): TopicValidatorResult => {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    const heartbeat = decodeHeartbeat(message.data)
    if (heartbeat === undefined || heartbeat.peerId !== message.from.toString())
      return TopicValidatorResult.Reject
    const known = this.peers.get(heartbeat.peerId)
    // An old heartbeat re-gossiped late is harmless but useless: drop without penalty.
    if (known !== undefined && heartbeat.seq <= known.seq) return TopicValidatorResult.Ignore
    return TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    if (evt.detail.topic !== LIVENESS_TOPIC) return
    const heartbeat = decodeHeartbeat(evt.detail.data)
    if (heartbeat === undefined) return
    const known = this.peers.get(heartbeat.peerId)
    if (known !== undefined && heartbeat.seq <= known.seq) return
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
    this.init.pubsub.publish(LIVENESS_TOPIC, encodeHeartbeat(heartbeat)).catch((err: Error) => {
      this.init.log('heartbeat not published: %s', err.message)
    })
  }
}
