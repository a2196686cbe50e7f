/**
 * Monitor events on `horus/v1/events`. StrictSign authenticates the publisher; only coordinators
 * the policy trusts as such may publish (a stranger's `workflow_completed` never reaches a
 * `coordinator.events` subscriber); the validator also requires the event to name that publisher
 * as `node`, so no node can speak for another, and drops anything malformed so it is never
 * forwarded.
 */
import type { Logger } from '@libp2p/interface'
import {
  type PublisherVerdict,
  type TopicPubSub,
  type TopicStats,
  ValidatedTopic,
} from '../gossip/validated-topic.js'
import { EVENTS_TOPIC } from './constants.js'
import { decodeMonitorEvent, encodeMonitorEvent, type MonitorEvent } from './event.js'

export interface EventsGossipInit {
  pubsub: TopicPubSub
  log: Logger
  /** Who may publish events (`trustedPublisher(policy, 'coordinator')`). @default everyone */
  publisher?: (peerId: string) => PublisherVerdict
  /** Each valid event published by another node. */
  onEvent: (event: MonitorEvent, from: string) => void
}

export class EventsGossip {
  private readonly log: Logger
  private readonly topic: ValidatedTopic<MonitorEvent>

  constructor(init: EventsGossipInit) {
    this.log = init.log
    this.topic = new ValidatedTopic({
      pubsub: init.pubsub,
      topic: EVENTS_TOPIC,
      ...(init.publisher === undefined ? {} : { publisher: init.publisher }),
      decode: (data, from) => {
        const event = decodeMonitorEvent(data)
        return event?.node === from ? event : undefined
      },
      deliver: init.onEvent,
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

  publish(event: MonitorEvent): void {
    // Every message is signed (StrictSign): skip the cost while nobody listens.
    if (!this.topic.isRunning || this.topic.subscribers() === 0) return
    this.topic.publish(encodeMonitorEvent(event), (err) => {
      this.log('event not published: %s', err.message)
    })
  }
}
