/**
 * Monitor events on `horus/v1/events`. StrictSign authenticates the publisher; the validator also
 * requires the event to name that publisher as `node`, so no node can speak for another, and
 * rejects anything malformed so it is never forwarded.
 */
import type { Logger } from '@libp2p/interface'
import { type TopicPubSub, ValidatedTopic } from '../gossip/validated-topic.js'
import { EVENTS_TOPIC } from './constants.js'
import { decodeMonitorEvent, encodeMonitorEvent, type MonitorEvent } from './event.js'

export interface EventsGossipInit {
  pubsub: TopicPubSub
  log: Logger
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

  publish(event: MonitorEvent): void {
    // Every message is signed (StrictSign): skip the cost while nobody listens.
    if (!this.topic.isRunning || this.topic.subscribers() === 0) return
    this.topic.publish(encodeMonitorEvent(event), (err) => {
      this.log('event not published: %s', err.message)
    })
  }
}
