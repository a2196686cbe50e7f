/**
 * Monitor events on the gossip topic: a turn's events go as one signed batch, within the size and
 * count bounds, and only while some peer subscribes; a node subscribes only while something wants
 * other nodes' events. A batch is accepted whole or not at all: hostile, malformed, oversized or
 * forged batches are refused and none of their events is delivered.
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import type { HorusNode } from '../src/node/index.js'
import {
  decodeMonitorEventBatch,
  EVENTS_TOPIC,
  EventsGossip,
  MAX_EVENT_BYTES,
  MAX_EVENT_MESSAGE_LENGTH,
  MAX_EVENTS_PER_MESSAGE,
  type MonitorEvent,
} from '../src/protocols/events/index.js'
import { trustedPublisher } from '../src/protocols/gossip/index.js'
import { TrustPolicy } from '../src/protocols/jobs/index.js'
import { LIVENESS_TOPIC } from '../src/protocols/liveness/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'

const silent = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never
const encoder = new TextEncoder()

function event(node: string, n: number, extra: Partial<MonitorEvent> = {}): MonitorEvent {
  return {
    type: 'step_succeeded',
    severity: 'info',
    at: new Date().toISOString(),
    node,
    runId: 'run-1',
    stepId: `s${n}`,
    message: `step ${n}`,
    ...extra,
  }
}

/** A stand-in for gossipsub that records what the topic registers, subscribes and publishes. */
function standIn(subscribers: string[] = []) {
  const validators = new Map<string, (from: unknown, message: unknown) => TopicValidatorResult>()
  const listeners: ((evt: CustomEvent<unknown>) => void)[] = []
  const published: Uint8Array[] = []
  const subscriptions: string[] = []
  const pubsub = {
    topicValidators: validators,
    addEventListener: (_: string, fn: (evt: CustomEvent<unknown>) => void) => listeners.push(fn),
    removeEventListener: () => {},
    subscribe: (topic: string) => subscriptions.push(`+${topic}`),
    unsubscribe: (topic: string) => subscriptions.push(`-${topic}`),
    publish: async (_: string, data: Uint8Array) => {
      published.push(data)
      return { recipients: [] }
    },
    getSubscribers: () => subscribers,
  }
  /** Validates a signed message as gossipsub would, and hands it to the listeners if accepted. */
  const receive = (from: unknown, data: Uint8Array, relayedBy: unknown = from): TopicValidatorResult => {
    const message = { type: 'signed', from, topic: EVENTS_TOPIC, data }
    const verdict = (validators.get(EVENTS_TOPIC) as NonNullable<ReturnType<typeof validators.get>>)(
      relayedBy,
      message,
    )
    if (verdict === TopicValidatorResult.Accept)
      for (const fn of listeners) fn(new CustomEvent('message', { detail: message }))
    return verdict
  }
  return { pubsub, published, subscriptions, receive }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('events gossip, one node', () => {
  it('refuses a hostile, malformed, oversized or forged batch whole, delivering none of it', async () => {
    const coordinator = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const client = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const policy = TrustPolicy.parse({
      keys: [
        { key: coordinator.toString(), roles: ['coordinator'] },
        { key: client.toString(), roles: ['client'], capabilities: ['*'] },
      ],
    })
    const { pubsub, receive } = standIn()
    const delivered: MonitorEvent[] = []
    const gossip = new EventsGossip({
      pubsub: pubsub as never,
      log: silent,
      publisher: trustedPublisher(() => policy, 'coordinator'),
      onEvent: (e) => delivered.push(e),
    })
    gossip.start()
    const me = coordinator.toString()
    const json = (value: unknown) => encoder.encode(JSON.stringify(value))
    const good = [event(me, 1), event(me, 2), event(me, 3)]

    const refused: [string, Uint8Array][] = [
      ['not JSON', encoder.encode('[{"type":')],
      ['an object, not an array', json({ events: good })],
      ['an empty array', json([])],
      ['a lone event (the v1 shape)', json(good[0])],
      ['one malformed event among good ones', json([good[0], { ...good[1], severity: 'fatal' }, good[2]])],
      ['an unknown field', json([{ ...good[0], extra: 1 }])],
      ['a non-object item', json([good[0], 'x'])],
      ['one event naming another node', json([good[0], { ...good[1], node: client.toString() }])],
      [
        `${MAX_EVENTS_PER_MESSAGE + 1} events`,
        json(Array.from({ length: MAX_EVENTS_PER_MESSAGE + 1 }, (_, i) => event(me, i))),
      ],
      [
        `over ${MAX_EVENT_BYTES} bytes`,
        json(
          Array.from({ length: 20 }, (_, i) =>
            event(me, i, { message: 'x'.repeat(MAX_EVENT_MESSAGE_LENGTH) }),
          ),
        ),
      ],
    ]
    for (const [what, data] of refused)
      expect({ what, verdict: receive(coordinator, data) }).toEqual({
        what,
        verdict: TopicValidatorResult.Reject,
      })
    // Signed by a key without the coordinator role, or by no known key at all.
    const clientsOwn = json([{ ...good[0], node: client.toString(), type: 'workflow_completed' }])
    expect(receive(client, clientsOwn)).toBe(TopicValidatorResult.Reject)
    const strangers = json([{ ...good[0], node: stranger.toString() }])
    expect(receive(stranger, strangers)).toBe(TopicValidatorResult.Reject)
    expect(receive(stranger, strangers, coordinator)).toBe(TopicValidatorResult.Ignore)
    expect(delivered).toEqual([])

    expect(receive(coordinator, json(good))).toBe(TopicValidatorResult.Accept)
    expect(delivered.map((e) => e.stepId)).toEqual(['s1', 's2', 's3'])
    expect(gossip.stats()).toMatchObject({
      accepted: 1,
      rejected: { malformed: refused.length, role_denied: 1, untrusted_publisher: 1 },
      ignored: { untrusted_publisher: 1 },
    })
    gossip.stop()
  })

  it("sends a turn's events as one message in order, split at the count and size bounds", async () => {
    const { pubsub, published } = standIn(['a-peer'])
    const gossip = new EventsGossip({ pubsub: pubsub as never, log: silent, onEvent: () => {} })
    gossip.start()
    const received = () => published.map((data) => decodeMonitorEventBatch(data))

    for (let i = 0; i < 3; i++) gossip.publish(event('me', i))
    expect(published).toHaveLength(0)
    await nextTurn()
    expect(received().map((batch) => batch?.map((e) => e.stepId))).toEqual([['s0', 's1', 's2']])

    published.length = 0
    for (let i = 0; i < MAX_EVENTS_PER_MESSAGE + 10; i++) gossip.publish(event('me', i))
    await nextTurn()
    expect(received().map((batch) => batch?.length)).toEqual([MAX_EVENTS_PER_MESSAGE, 10])
    expect(received().flatMap((batch) => batch?.map((e) => e.stepId))).toEqual(
      Array.from({ length: MAX_EVENTS_PER_MESSAGE + 10 }, (_, i) => `s${i}`),
    )

    // Large events: every message stays within what a receiver accepts, none is lost.
    published.length = 0
    const long = 'é'.repeat(MAX_EVENT_MESSAGE_LENGTH)
    for (let i = 0; i < 40; i++) gossip.publish(event('me', i, { message: long }))
    // An event no message could carry is not sent (a receiver would reject it and penalise us).
    gossip.publish(event('me', 99, { data: { blob: 'x'.repeat(MAX_EVENT_BYTES) } }))
    await nextTurn()
    expect(published.length).toBeGreaterThan(1)
    for (const data of published) expect(data.byteLength).toBeLessThanOrEqual(MAX_EVENT_BYTES)
    expect(received().flatMap((batch) => batch?.map((e) => e.stepId))).toEqual(
      Array.from({ length: 40 }, (_, i) => `s${i}`),
    )
    expect(gossip.stats().published).toBe(published.length + 3)
    gossip.stop()
  })

  it('publishes nothing while no peer subscribes, and subscribes only while wanted', async () => {
    const subscribers: string[] = []
    const { pubsub, published, subscriptions } = standIn(subscribers)
    const gossip = new EventsGossip({ pubsub: pubsub as never, log: silent, onEvent: () => {} })
    gossip.start()
    gossip.publish(event('me', 1))
    await nextTurn()
    expect(published).toEqual([])
    expect(subscriptions).toEqual([])

    const first = gossip.want()
    const second = gossip.want()
    expect(subscriptions).toEqual([`+${EVENTS_TOPIC}`])
    first()
    first()
    expect(subscriptions).toEqual([`+${EVENTS_TOPIC}`])
    gossip.stop()
    gossip.start()
    expect(subscriptions).toEqual([`+${EVENTS_TOPIC}`, `-${EVENTS_TOPIC}`, `+${EVENTS_TOPIC}`])
    second()
    expect(subscriptions.at(-1)).toBe(`-${EVENTS_TOPIC}`)

    // Events queued in the turn the node stops still go out.
    subscribers.push('a-peer')
    gossip.publish(event('me', 2))
    gossip.stop()
    expect(published.map((data) => decodeMonitorEventBatch(data)?.[0]?.stepId)).toEqual(['s2'])
  })
})

describe('events gossip between real nodes', () => {
  const mesh = new TestMesh()
  afterEach(() => mesh.cleanup())

  it('flows only to a node that wants it, signed, batched, and only from coordinators', async () => {
    const a = await mesh.node({ name: 'a' })
    const b = await mesh.node({ name: 'b', bootstrap: [a.multiaddrs()[0] as string] })
    const c = await mesh.node({ name: 'c', bootstrap: [a.multiaddrs()[0] as string] })
    const policy = TrustPolicy.parse({
      keys: [
        { key: a.peerId, roles: ['coordinator'] },
        { key: b.peerId, roles: ['coordinator'] },
        { key: c.peerId, roles: ['client'], capabilities: ['*'] },
      ],
    })
    const heard = new Map<HorusNode, MonitorEvent[]>()
    const gossips = new Map(
      [a, b, c].map((node) => {
        heard.set(node, [])
        const gossip = new EventsGossip({
          pubsub: node.libp2p.services.pubsub,
          log: silent,
          publisher: trustedPublisher(() => policy, 'coordinator'),
          onEvent: (e) => heard.get(node)?.push(e),
        })
        gossip.start()
        return [node, gossip] as const
      }),
    )
    const gossipOf = (node: HorusNode) => gossips.get(node) as EventsGossip
    const sees = (node: HorusNode, other: HorusNode, topic: string) =>
      node.libp2p.services.pubsub.getSubscribers(topic).some((p) => p.toString() === other.peerId)

    // a has subscribed peers (on the liveness topic), but none on the events topic: nothing is
    // signed or sent.
    await waitFor(() => sees(a, b, LIVENESS_TOPIC), { what: 'a to see b on the liveness topic' })
    for (let i = 0; i < 3; i++) gossipOf(a).publish(event(a.peerId, i))
    await nextTurn()
    expect(gossipOf(a).stats().published).toBe(0)

    const unfollow = gossipOf(b).want()
    await waitFor(() => sees(a, b, EVENTS_TOPIC) && sees(c, b, EVENTS_TOPIC), {
      what: 'a and c to see b follow events',
    })
    for (let i = 0; i < 3; i++) gossipOf(a).publish(event(a.peerId, i))
    await waitFor(() => (heard.get(b)?.length ?? 0) >= 3, { what: "b to hear a's events" })
    expect(heard.get(b)?.map((e) => e.stepId)).toEqual(['s0', 's1', 's2'])
    expect(gossipOf(a).stats().published).toBe(1)
    expect(heard.get(c)).toEqual([])

    // c, trusted only as a client, signs a batch of its own: b refuses it.
    gossipOf(c).publish(event(c.peerId, 9, { type: 'workflow_completed', message: 'forged' }))
    await waitFor(() => (gossipOf(b).stats().rejected.role_denied ?? 0) > 0, {
      what: "b to refuse c's events",
    })
    expect(heard.get(b)?.some((e) => e.message === 'forged')).toBe(false)

    unfollow()
    await waitFor(() => !sees(a, b, EVENTS_TOPIC), { what: 'a to see b stop following' })
    gossipOf(a).publish(event(a.peerId, 4))
    await nextTurn()
    expect(gossipOf(a).stats().published).toBe(1)
    for (const gossip of gossips.values()) gossip.stop()
  })
})
