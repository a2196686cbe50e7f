/**
 * Monitor events on `horus/v2/events`. StrictSign authenticates the publisher; only coordinators
 * the policy trusts as such may publish (a stranger's `workflow_completed` never reaches a
 * `coordinator.events` subscriber); the validator also requires every event of a message to name
 * that publisher as `node`, so no node can speak for another, and drops anything malformed so it
 * is never forwarded.
 *
 * Cost. Every message is signed once and verified by every receiver, so the events of one
 * event-loop turn go as one message (in order, within `MAX_EVENT_BYTES` and
 * `MAX_EVENTS_PER_MESSAGE`), and a node subscribes only while something here wants other nodes'
 * events (`want()`): with no subscriber among its peers a node publishes nothing at all.
 */
import type { Logger } from '@libp2p/interface'
import { TurnBatch } from '../../core/turn-batch.js'
import {
  type PublisherVerdict,
  type TopicPubSub,
  type TopicStats,
  ValidatedTopic,
} from '../gossip/validated-topic.js'
import { EVENTS_TOPIC, MAX_EVENT_BYTES, MAX_EVENTS_PER_MESSAGE } from './constants.js'
import { decodeMonitorEventBatch, encodeMonitorEventBatch, type MonitorEvent } from './event.js'

export interface EventsGossipInit {
  pubsub: TopicPubSub
  log: Logger
  /** Who may publish events (`trustedPublisher(policy, 'coordinator')`). @default everyone */
  publisher?: (peerId: string) => PublisherVerdict
  /** Each valid event published by another node, in the order its publisher emitted them. */
  onEvent: (event: MonitorEvent, from: string) => void
}

/** The brackets of the array, and a comma per event (counted with the event). */
const BATCH_OVERHEAD_BYTES = 2

export class EventsGossip {
  private readonly log: Logger
  private readonly topic: ValidatedTopic<MonitorEvent[]>
  private readonly batch: TurnBatch<string>

  constructor(init: EventsGossipInit) {
    this.log = init.log
    this.topic = new ValidatedTopic({
      pubsub: init.pubsub,
      topic: EVENTS_TOPIC,
      onDemand: true,
      ...(init.publisher === undefined ? {} : { publisher: init.publisher }),
      decode: (data, from) => {
        const events = decodeMonitorEventBatch(data)
        return events?.every((event) => event.node === from) === true ? events : undefined
      },
      deliver: (events, from) => {
        for (const event of events) init.onEvent(event, from)
      },
    })
    this.batch = new TurnBatch({
      maxItems: MAX_EVENTS_PER_MESSAGE,
      maxBytes: MAX_EVENT_BYTES - BATCH_OVERHEAD_BYTES,
      sizeOf: (encoded) => Buffer.byteLength(encoded) + 1,
      send: (encoded) => this.send(encoded),
    })
  }

  start(): void {
    this.topic.start()
  }

  stop(): void {
    this.batch.flush()
    this.topic.stop()
  }

  stats(): TopicStats {
    return this.topic.stats()
  }

  /**
   * Subscribes until the returned function is called, so peers publish their events here (a
   * subscription takes a moment to reach them: events emitted before then are not heard).
   */
  want(): () => void {
    return this.topic.demand()
  }

  publish(event: MonitorEvent): void {
    // Every message is signed: skip the cost while none of this node's peers listens.
    if (!this.topic.isRunning || this.topic.subscribers() === 0) return
    const encoded = JSON.stringify(event)
    // Receivers reject (and penalise the sender for) a message over the bound: never send one.
    if (Buffer.byteLength(encoded) + 1 > MAX_EVENT_BYTES - BATCH_OVERHEAD_BYTES) {
      this.log('event %s of run %s not published: over %d bytes', event.type, event.runId, MAX_EVENT_BYTES)
      return
    }
    this.batch.push(encoded)
  }

  private send(encoded: string[]): void {
    this.topic.publish(encodeMonitorEventBatch(encoded), (err) => {
      this.log('%d event(s) not published: %s', encoded.length, err.message)
    })
  }
}
