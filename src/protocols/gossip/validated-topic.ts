/**
 * One gossipsub topic whose messages are checked before they are delivered or forwarded. Every
 * Horus topic (liveness, state deltas, monitor events) has the same shape: a topic validator that
 * rejects unsigned or malformed messages — so they are never forwarded and the sender's score
 * drops — and a listener for the messages that passed. The validator's decoded value is kept for
 * the listener, so each message is parsed once.
 */
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

export type TopicPubSub = Pick<
  GossipSub,
  | 'topicValidators'
  | 'addEventListener'
  | 'removeEventListener'
  | 'subscribe'
  | 'unsubscribe'
  | 'publish'
  | 'getSubscribers'
>

export interface ValidatedTopicInit<T> {
  pubsub: TopicPubSub
  topic: string
  /** Parses and checks a message from its (StrictSign-authenticated) publisher; `undefined` rejects it. */
  decode(data: Uint8Array, from: string): T | undefined
  /** Each message that passed, from another node. */
  deliver(value: T, from: string): void
  /** For a valid message: deliver it (Accept) or drop it without penalty (Ignore). @default Accept */
  admit?(value: T, from: string): TopicValidatorResult
}

export class ValidatedTopic<T> {
  private readonly init: ValidatedTopicInit<T>
  private readonly decoded = new WeakMap<Message, T>()
  private running = false

  constructor(init: ValidatedTopicInit<T>) {
    this.init = init
  }

  get topic(): string {
    return this.init.topic
  }

  get isRunning(): boolean {
    return this.running
  }

  start(): void {
    if (this.running) return
    this.running = true
    const { pubsub, topic } = this.init
    pubsub.topicValidators.set(topic, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(topic)
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    const { pubsub, topic } = this.init
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(topic)
    pubsub.unsubscribe(topic)
  }

  /** Peers subscribed to the topic: publishing (and signing) can be skipped while there are none. */
  subscribers(): number {
    return this.init.pubsub.getSubscribers(this.init.topic).length
  }

  /** Publishes; a failure (no peers yet, node stopping) is passed to `onError`, never thrown. */
  publish(data: Uint8Array, onError: (err: Error) => void): void {
    if (!this.running) return
    this.init.pubsub.publish(this.init.topic, data).catch(onError)
  }

  private readonly validate = (_from: PeerId, message: Message): TopicValidatorResult => {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    const from = message.from.toString()
    const value = this.init.decode(message.data, from)
    if (value === undefined) return TopicValidatorResult.Reject
    const verdict = this.init.admit?.(value, from) ?? TopicValidatorResult.Accept
    if (verdict === TopicValidatorResult.Accept) this.decoded.set(message, value)
    return verdict
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.topic !== this.init.topic || message.type !== 'signed') return
    const from = message.from.toString()
    // Messages reach listeners only after the validator accepted them; decode again only if the
    // message object was not the one validated.
    const value = this.decoded.get(message) ?? this.init.decode(message.data, from)
    if (value !== undefined) this.init.deliver(value, from)
  }
}
