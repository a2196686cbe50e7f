/**
 * One gossipsub topic whose messages are checked before they are delivered or forwarded. Every
 * Horus topic (liveness, state deltas, monitor events) has the same shape: a topic validator that
 * drops unsigned, untrusted or malformed messages — so they are never forwarded — and a listener
 * for the messages that passed. The validator's decoded value is kept for the listener, so each
 * message is parsed once.
 *
 * Scoring: gossipsub charges `Reject` (P4, invalid message deliveries) to the peer the message came
 * from, not to its publisher. So a message whose publisher has no entry in the local policy is
 * rejected only when that publisher sent it to us itself; relayed by another peer, it is ignored
 * (dropped, not forwarded, no penalty): the relay may simply trust keys this node does not.
 * A known key without the role the topic needs, and anything malformed, is rejected: the relay
 * validated it too and should not have passed it on.
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
  | 'getSubscribers'
> & {
  // gossipsub's implementation takes per-message options (`PublishOpts`); its exported interface
  // does not declare them, and a function of fewer parameters still satisfies this.
  publish(topic: string, data: Uint8Array, opts?: { floodPublish?: boolean }): Promise<unknown>
}

/**
 * What the local policy says of a message's publisher: `ok`; `untrusted_publisher` (no entry at
 * all); `role_denied` (an entry without the role this topic needs).
 */
export type PublisherVerdict = 'ok' | 'untrusted_publisher' | 'role_denied'

/** Reasons a message is dropped; `ignore` hooks add their own (e.g. `stale`). */
export type DropReason = 'unsigned' | 'untrusted_publisher' | 'role_denied' | 'malformed' | (string & {})

export interface TopicStats {
  topic: string
  /** Messages this node published. */
  published: number
  /** Messages delivered. */
  accepted: number
  /** Dropped with a penalty for the peer that sent them, by reason. */
  rejected: Record<string, number>
  /** Dropped without a penalty, by reason. */
  ignored: Record<string, number>
}

export interface ValidatedTopicInit<T> {
  pubsub: TopicPubSub
  topic: string
  /** Who may publish here, asked before the message is decoded. @default everyone */
  publisher?(from: string): PublisherVerdict
  /** Parses and checks a message from its (StrictSign-authenticated) publisher; `undefined` rejects it. */
  decode(data: Uint8Array, from: string): T | undefined
  /** Each message that passed, from another node. */
  deliver(value: T, from: string): void
  /** For a valid message: `undefined` delivers it, a reason drops it without penalty (Ignore). */
  ignore?(value: T, from: string): string | undefined
  /**
   * Subscribe only while someone holds `demand()`: peers then see no subscriber here and need not
   * publish (and sign) what nobody would read. The validator is registered all the same, so a
   * message that arrives anyway is checked. @default false (subscribed while running)
   */
  onDemand?: boolean
  /**
   * Whether this node's own messages go to every peer on the topic (gossipsub's flood publish) or
   * to its gossip mesh only, which forwards them. @default gossipsub's setting (flood)
   */
  floodPublish?: boolean
}

export class ValidatedTopic<T> {
  private readonly init: ValidatedTopicInit<T>
  private readonly decoded = new WeakMap<Message, T>()
  private readonly counts = {
    published: 0,
    accepted: 0,
    rejected: new Map<string, number>(),
    ignored: new Map<string, number>(),
  }
  private running = false
  private subscribed = false
  private demands = 0

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
    this.resubscribe()
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    const { pubsub, topic } = this.init
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.topicValidators.delete(topic)
    this.resubscribe()
  }

  /**
   * Keeps an `onDemand` topic subscribed until the returned function is called (once is enough;
   * later calls do nothing). Holders are counted: the last release unsubscribes.
   */
  demand(): () => void {
    this.demands++
    this.resubscribe()
    let held = true
    return () => {
      if (!held) return
      held = false
      this.demands--
      this.resubscribe()
    }
  }

  private resubscribe(): void {
    const want = this.running && (this.init.onDemand !== true || this.demands > 0)
    if (want === this.subscribed) return
    this.subscribed = want
    if (want) this.init.pubsub.subscribe(this.init.topic)
    else this.init.pubsub.unsubscribe(this.init.topic)
  }

  /** Peers subscribed to the topic: publishing (and signing) can be skipped while there are none. */
  subscribers(): number {
    return this.init.pubsub.getSubscribers(this.init.topic).length
  }

  /** Publishes; a failure (no peers yet, node stopping) is passed to `onError`, never thrown. */
  publish(data: Uint8Array, onError: (err: Error) => void): void {
    if (!this.running) return
    this.counts.published++
    const { floodPublish } = this.init
    this.init.pubsub
      .publish(this.init.topic, data, floodPublish === undefined ? undefined : { floodPublish })
      .catch(onError)
  }

  /** What the validator did with the messages seen so far. */
  stats(): TopicStats {
    return {
      topic: this.init.topic,
      published: this.counts.published,
      accepted: this.counts.accepted,
      rejected: Object.fromEntries(this.counts.rejected),
      ignored: Object.fromEntries(this.counts.ignored),
    }
  }

  private drop(verdict: TopicValidatorResult, reason: DropReason): TopicValidatorResult {
    const counts = verdict === TopicValidatorResult.Reject ? this.counts.rejected : this.counts.ignored
    counts.set(reason, (counts.get(reason) ?? 0) + 1)
    return verdict
  }

  private readonly validate = (propagationSource: PeerId, message: Message): TopicValidatorResult => {
    if (message.type !== 'signed') return this.drop(TopicValidatorResult.Reject, 'unsigned')
    const from = message.from.toString()
    const publisher = this.init.publisher?.(from) ?? 'ok'
    if (publisher === 'untrusted_publisher') {
      const direct = message.from.equals(propagationSource)
      return this.drop(direct ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore, publisher)
    }
    if (publisher === 'role_denied') return this.drop(TopicValidatorResult.Reject, publisher)
    const value = this.init.decode(message.data, from)
    if (value === undefined) return this.drop(TopicValidatorResult.Reject, 'malformed')
    const ignored = this.init.ignore?.(value, from)
    if (ignored !== undefined) return this.drop(TopicValidatorResult.Ignore, ignored)
    this.counts.accepted++
    this.decoded.set(message, value)
    return TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (message.topic !== this.init.topic || message.type !== 'signed') return
    const from = message.from.toString()
    // Only messages the validator accepted reach listeners, and only once it decoded them; a
    // message object it never saw (this node's own, echoed) is not delivered.
    const value = this.decoded.get(message)
    if (value !== undefined) this.init.deliver(value, from)
  }
}
