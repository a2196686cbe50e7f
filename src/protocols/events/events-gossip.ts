/**
 * Monitor events on `horus/v1/events`. StrictSign authenticates the publisher; the validator also
 * requires the event to name that publisher as `node`, so no node can speak for another, and
 * rejects anything malformed so it is never forwarded.
 */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'
import { EVENTS_TOPIC } from './constants.js'
import { decodeMonitorEvent, encodeMonitorEvent, type MonitorEvent } from './event.js'

export interface EventsGossipInit {
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
  /** Each valid event published by another node. */
  onEvent: (event: MonitorEvent, from: string) => void
}

export class EventsGossip {
  private readonly init: EventsGossipInit
  private running = false

  constructor(init: EventsGossipInit) {
    this.init = init
  }

  start(): void {
    if (this.running) return
    this.running = true
    const { pubsub } = this.init
    pubsub.topicValidators.set(EVENTS_TOPIC, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(EVENTS_TOPIC)
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    const { pubsub } = this.init
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(EVENTS_TOPIC)
    pubsub.unsubscribe(EVENTS_TOPIC)
  }

  publish(event: MonitorEvent): void {
    // Every message is signed (StrictSign): skip the cost while nobody listens.
    if (!this.running || this.init.pubsub.getSubscribers(EVENTS_TOPIC).length === 0) return
    this.init.pubsub.publish(EVENTS_TOPIC, encodeMonitorEvent(event)).catch((err: Error) => {
      this.init.log('event not published: %s', err.message)
    })
  }

  private readonly validate = (_from: PeerId, message: Message): TopicValidatorResult => {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    const event = decodeMonitorEvent(message.data)
    if (event === undefined || event.node !== message.from.toString()) return TopicValidatorResult.Reject
    return TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.topic !== EVENTS_TOPIC || message.type !== 'signed') return
    const event = decodeMonitorEvent(message.data)
    if (event !== undefined) this.init.onEvent(event, message.from.toString())
  }
}
