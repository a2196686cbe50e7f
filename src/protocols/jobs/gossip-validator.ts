/**
 * The topic validator for `horus/v1/jobs/<capability>`. gossipsub runs it before delivering or
 * forwarding a message, so an invalid job is never passed on, and `Reject` feeds the sender's P4
 * (invalid message deliveries) score until it is graylisted.
 *
 * - Invalid jobs (any verifier reason, unsigned messages, a message on a non-job topic) → Reject.
 * - Valid jobs above a publisher's rate → Ignore: dropped without a penalty. The excess is
 *   authentic, trusted work, and graylisting a busy coordinator would cut it off from the mesh;
 *   the rate limit protects this node's executors, not the mesh's scores.
 * - Verification runs first, so every invalid message is penalised even while the publisher is
 *   over its rate; a stranger's message costs only a trust-policy lookup (see verifier.ts).
 * - The validator uses `check()`: it does not consume the nonce (see verifier.ts).
 */
import type { Message, TopicValidatorFn } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { DEFAULT_GOSSIP_BURST, DEFAULT_GOSSIP_RATE_PER_SECOND } from './constants.js'
import { TokenBuckets } from './rate-limiter.js'
import { capabilityOfTopic } from './topics.js'
import type { JobVerifier } from './verifier.js'

export interface JobTopicValidatorOptions {
  /** @default DEFAULT_GOSSIP_RATE_PER_SECOND */
  ratePerSecond?: number
  /** @default DEFAULT_GOSSIP_BURST */
  burst?: number
  /** Clock for expiry and rate checks. @default Date.now */
  now?: () => number
}

export function createJobTopicValidator(
  verifier: JobVerifier,
  options: JobTopicValidatorOptions = {},
): TopicValidatorFn {
  const buckets = new TokenBuckets(
    options.ratePerSecond ?? DEFAULT_GOSSIP_RATE_PER_SECOND,
    options.burst ?? DEFAULT_GOSSIP_BURST,
  )
  const clock = options.now ?? Date.now
  return (_propagationSource: PeerId, message: Message): TopicValidatorResult => {
    const capability = capabilityOfTopic(message.topic)
    if (capability === undefined || message.type !== 'signed') return TopicValidatorResult.Reject
    const now = clock()
    const result = verifier.check(message.data, { capability, now })
    if (!result.ok) return TopicValidatorResult.Reject
    return buckets.take(message.from.toString(), now)
      ? TopicValidatorResult.Accept
      : TopicValidatorResult.Ignore
  }
}
