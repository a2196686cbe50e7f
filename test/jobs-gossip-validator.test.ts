import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  capabilityOfTopic,
  createJob,
  createJobTopicValidator,
  jobTopic,
} from '../src/protocols/jobs/index.js'
import { createVerifierFixture, type VerifierFixture } from './jobs-helpers.js'

let fx: VerifierFixture

beforeEach(async () => {
  fx = await createVerifierFixture()
})

afterEach(async () => {
  await fx.close()
})

async function publisher() {
  const key = await generateKeyPair('Ed25519')
  return { peerId: peerIdFromPrivateKey(key), key: key.publicKey }
}

/** A gossip message as gossipsub hands it to a validator once its own signature has checked out. */
function signedMessage(
  from: Awaited<ReturnType<typeof publisher>>,
  topic: string,
  data: Uint8Array,
): Message {
  return {
    type: 'signed',
    from: from.peerId,
    key: from.key,
    topic,
    data,
    sequenceNumber: 1n,
    signature: new Uint8Array(64),
  }
}

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

describe('job topics', () => {
  it('map capabilities to topics and back', () => {
    expect(jobTopic('sal')).toBe('horus/v1/jobs/sal')
    expect(capabilityOfTopic('horus/v1/jobs/sal')).toBe('sal')
    expect(capabilityOfTopic('horus/v1/state')).toBeUndefined()
    expect(capabilityOfTopic('horus/v1/jobs/Not Valid')).toBeUndefined()
    expect(() => jobTopic('../state')).toThrow(/not a capability name/)
  })
})

describe('createJobTopicValidator', () => {
  it('accepts valid jobs, rejects invalid ones and ignores a publisher over its rate', async () => {
    let now = Date.now()
    const validate = createJobTopicValidator(fx.verifier, { ratePerSecond: 1, burst: 2, now: () => now })
    const busy = await publisher()
    const other = await publisher()
    const topic = jobTopic('sal')
    const job = () => encode(createJob({ runner: 'sal', createdAt: now }, fx.client))

    expect(validate(busy.peerId, signedMessage(busy, topic, job()))).toBe(TopicValidatorResult.Accept)
    expect(validate(busy.peerId, signedMessage(busy, topic, job()))).toBe(TopicValidatorResult.Accept)
    // Over the rate: dropped without a penalty…
    expect(validate(busy.peerId, signedMessage(busy, topic, job()))).toBe(TopicValidatorResult.Ignore)
    // …but an invalid job is still penalised, whatever the rate.
    expect(validate(busy.peerId, signedMessage(busy, topic, encode({ x: 1 })))).toBe(
      TopicValidatorResult.Reject,
    )
    // Buckets are per publisher, and refill with time.
    expect(validate(busy.peerId, signedMessage(other, topic, job()))).toBe(TopicValidatorResult.Accept)
    now += 1_000
    expect(validate(busy.peerId, signedMessage(busy, topic, job()))).toBe(TopicValidatorResult.Accept)
  })

  it('rejects a job announced on another capability’s topic and unsigned messages', async () => {
    const validate = createJobTopicValidator(fx.verifier)
    const from = await publisher()
    const data = encode(createJob({ runner: 'sal' }, fx.client))
    expect(validate(from.peerId, signedMessage(from, jobTopic('hero'), data))).toBe(
      TopicValidatorResult.Reject,
    )
    expect(fx.verifier.stats().rejected.capability_denied).toBe(1)
    const unsigned: Message = { type: 'unsigned', topic: jobTopic('sal'), data }
    expect(validate(from.peerId, unsigned)).toBe(TopicValidatorResult.Reject)
    // Validation never consumed the nonce: the job can still be accepted for execution.
    expect((await fx.verifier.verify(data)).ok).toBe(true)
  })
})
