/**
 * Run-state deltas on `horus/v1/state`. Only coordinators may write run state: the validator
 * accepts a message only when it is signed (StrictSign), its publisher holds the trust role
 * `coordinator`, and it decodes as a run-state delta within the size limit. Everything else is
 * rejected, so it is neither delivered nor forwarded.
 */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'
import type { StateDecodeLimits } from '../constants.js'
import { RunState } from '../run-state.js'
import { MAX_DELTA_BYTES, STATE_TOPIC } from './constants.js'

export interface StateGossipInit {
  pubsub: Pick<
    GossipSub,
    | 'topicValidators'
    | 'addEventListener'
    | 'removeEventListener'
    | 'subscribe'
    | 'unsubscribe'
    | 'publish'
    | 'getSubscribers'
  >
  log: Logger
  /** Whether a peer may write run state (the trust policy's role `coordinator`). */
  isCoordinator: (peerId: string) => boolean
  /** Each valid delta from another coordinator. */
  onDelta: (delta: RunState, from: string) => void
  limits?: StateDecodeLimits
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeDelta(delta: RunState): Uint8Array {
  return encoder.encode(JSON.stringify(delta.toJSON()))
}

/** Decodes a delta from the topic; `undefined` for anything malformed or too large. */
export function decodeDelta(data: Uint8Array, limits?: StateDecodeLimits): RunState | undefined {
  if (data.byteLength > MAX_DELTA_BYTES) return undefined
  try {
    return RunState.fromJSON(decoder.decode(data), limits)
  } catch {
    return undefined
  }
}

export class StateGossip {
  private readonly init: StateGossipInit
  private running = false

  constructor(init: StateGossipInit) {
    this.init = init
  }

  start(): void {
    if (this.running) return
    this.running = true
    const { pubsub } = this.init
    pubsub.topicValidators.set(STATE_TOPIC, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(STATE_TOPIC)
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    const { pubsub } = this.init
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(STATE_TOPIC)
    pubsub.unsubscribe(STATE_TOPIC)
  }

  /** Publishes a delta; false when it is too large for gossip (anti-entropy will carry it). */
  publish(delta: RunState): boolean {
    // Signing and encoding are skipped while no coordinator listens; anti-entropy brings a
    // coordinator that joins later up to date.
    if (!this.running || delta.isEmpty() || this.init.pubsub.getSubscribers(STATE_TOPIC).length === 0)
      return true
    const data = encodeDelta(delta)
    if (data.byteLength > MAX_DELTA_BYTES) return false
    this.init.pubsub.publish(STATE_TOPIC, data).catch((err: Error) => {
      this.init.log('state delta of %s not published: %s', delta.run, err.message)
    })
    return true
  }

  private readonly validate = (_from: PeerId, message: Message): TopicValidatorResult => {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    if (!this.init.isCoordinator(message.from.toString())) return TopicValidatorResult.Reject
    return decodeDelta(message.data, this.init.limits) === undefined
      ? TopicValidatorResult.Reject
      : TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.topic !== STATE_TOPIC || message.type !== 'signed') return
    const delta = decodeDelta(message.data, this.init.limits)
    if (delta !== undefined) this.init.onDelta(delta, message.from.toString())
  }
}
