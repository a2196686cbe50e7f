/**
 * Run-state deltas on `horus/v1/state`. Only coordinators may write run state: the validator
 * accepts a message only when it is signed (StrictSign), its publisher holds the trust role
 * `coordinator`, and it decodes as a run-state delta within the size limit. Everything else is
 * dropped (see ValidatedTopic for reject vs ignore), so it is neither delivered nor forwarded.
 */
import type { Logger } from '@libp2p/interface'
import {
  type PublisherVerdict,
  type TopicPubSub,
  type TopicStats,
  ValidatedTopic,
} from '../../gossip/validated-topic.js'
import type { StateDecodeLimits } from '../constants.js'
import { RunState } from '../run-state.js'
import { MAX_DELTA_BYTES, STATE_TOPIC } from './constants.js'

export interface StateGossipInit {
  pubsub: TopicPubSub
  log: Logger
  /** Whether a peer may write run state (`trustedPublisher(policy, 'coordinator')`). */
  publisher: (peerId: string) => PublisherVerdict
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
  private readonly log: Logger
  private readonly topic: ValidatedTopic<RunState>

  constructor(init: StateGossipInit) {
    this.log = init.log
    this.topic = new ValidatedTopic({
      pubsub: init.pubsub,
      topic: STATE_TOPIC,
      publisher: init.publisher,
      decode: (data) => decodeDelta(data, init.limits),
      deliver: init.onDelta,
    })
  }

  start(): void {
    this.topic.start()
  }

  stop(): void {
    this.topic.stop()
  }

  stats(): TopicStats {
    return this.topic.stats()
  }

  /** Publishes a delta; false when it is too large for gossip (anti-entropy will carry it). */
  publish(delta: RunState): boolean {
    // Signing and encoding are skipped while no coordinator listens; anti-entropy brings a
    // coordinator that joins later up to date.
    if (!this.topic.isRunning || delta.isEmpty() || this.topic.subscribers() === 0) return true
    const data = encodeDelta(delta)
    if (data.byteLength > MAX_DELTA_BYTES) return false
    this.topic.publish(data, (err) => {
      this.log('state delta of %s not published: %s', delta.run, err.message)
    })
    return true
  }
}
