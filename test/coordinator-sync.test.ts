/**
 * The replication protocol in isolation: anti-entropy between two replicas over the
 * `coordinator.sync` handler (called directly, no network), and the validators of the state and
 * events topics (given a stand-in pubsub that records what is registered).
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { EVENTS_TOPIC, EventsGossip, encodeMonitorEvent } from '../src/protocols/events/index.js'
import { trustedPublisher } from '../src/protocols/gossip/index.js'
import { TrustPolicy } from '../src/protocols/jobs/index.js'
import { RunState } from '../src/protocols/state/run-state.js'
import {
  answerSync,
  encodeDelta,
  STATE_TOPIC,
  StateGossip,
  type SyncHost,
  syncMethod,
  syncWith,
} from '../src/protocols/state/sync/index.js'

function replica(): SyncHost & { runs_: Map<string, RunState> } {
  const runs_ = new Map<string, RunState>()
  return {
    runs_,
    runs: () => runs_.keys(),
    state: (run) => runs_.get(run),
    apply: (delta) => {
      const known = runs_.get(delta.run)
      if (known === undefined) runs_.set(delta.run, delta.clone())
      else known.merge(delta)
    },
  }
}

const stamp = (ms: number, node: string) => `${String(ms).padStart(15, '0')}-000000-${node}`

function run(id: string, node: string, steps: string[], at = 1_000): RunState {
  const state = RunState.create({
    run: id,
    hlc: stamp(at, node),
    workflow: { workflow: { name: 'w', steps: [] } },
    inputs: {},
  })
  for (const [i, step] of steps.entries()) {
    state.setStep(step, { attempt: 1, phase: 'succeeded', result: i, hlc: stamp(at + i + 1, node) })
  }
  return state
}

describe('anti-entropy (coordinator.sync)', () => {
  it('two diverged replicas end equal after one round, in both directions', async () => {
    const a = replica()
    const b = replica()
    a.runs_.set('r1', run('r1', 'a', ['x', 'y']))
    const r1b = run('r1', 'a', ['x'])
    r1b.cancel(stamp(5_000, 'b'))
    b.runs_.set('r1', r1b)
    b.runs_.set('r2', run('r2', 'b', ['z']))
    a.runs_.set('r3', run('r3', 'a', []))
    const client = {
      call: async <T>(_m: string, params?: unknown) => answerSync(b, params as never, 'a') as T,
    }
    const stats = await syncWith(client, a, 'b')
    expect(stats.received).toBeGreaterThan(0)
    expect(stats.sent).toBeGreaterThan(0)
    for (const id of ['r1', 'r2', 'r3'])
      expect(a.runs_.get(id)?.equals(b.runs_.get(id) as RunState), id).toBe(true)
    expect(a.runs_.get('r1')?.cancelled).toBeDefined()
    expect(a.runs_.get('r1')?.step('y')?.phase).toBe('succeeded')
    // Equal replicas exchange nothing but digests, and each run is confirmed held by the peer
    // at the version it has here (what a replica leaving the run's set waits for).
    const again = await syncWith(client, a, 'b')
    expect({ received: again.received, sent: again.sent }).toEqual({ received: 0, sent: 0 })
    expect(again.confirmed).toEqual(
      new Map(['r1', 'r2', 'r3'].map((id) => [id, a.runs_.get(id)?.version as number])),
    )
  })

  it('sends a run bigger than one RPC frame in parts, confirming it only once the peer holds all', async () => {
    const a = replica()
    const b = replica()
    // 24 steps of ~128 KiB each: about 3 MiB, three times the 1 MiB frame.
    const big = run('big', 'a', [])
    for (let i = 0; i < 24; i++) {
      const result = 'x'.repeat(128 * 1024)
      big.setStep(`s${i}`, { attempt: 1, phase: 'succeeded', result, hlc: stamp(2_000 + i, 'a') })
    }
    a.runs_.set('big', big)
    const frames: number[] = []
    const client = {
      call: async <T>(_m: string, params?: unknown) => {
        frames.push(JSON.stringify(params).length)
        const answer = answerSync(b, params as never, 'a')
        frames.push(JSON.stringify(answer).length)
        return answer as T
      },
    }
    // A holder leaving the run's set waits for this confirmation: never before B has all of it.
    let rounds = 0
    for (; rounds < 10; rounds++) {
      const { confirmed } = await syncWith(client, a, 'b')
      const complete = b.runs_.get('big')?.equals(big) === true
      if (confirmed.has('big')) {
        expect(complete).toBe(true)
        break
      }
    }
    expect(b.runs_.get('big')?.equals(big)).toBe(true)
    expect(rounds).toBeGreaterThan(2)
    expect(Math.max(...frames)).toBeLessThan(1024 * 1024)
  })

  it('answers only once what it merged is on disk, and fails instead when a write failed', async () => {
    const b = replica()
    let written = false
    let failing = false
    const host: SyncHost = {
      ...b,
      durable: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20))
        if (failing) throw new Error('disk full')
        written = true
      },
    }
    const method = syncMethod(host, () => true)
    const ctx = { caller: { via: 'libp2p', peerId: 'a' }, signal: new AbortController().signal } as never
    const delta = run('r1', 'a', ['x']).toJSON()
    await method.handler({ deltas: [delta] }, ctx)
    expect(written).toBe(true)
    failing = true
    await expect(method.handler({ deltas: [delta] }, ctx)).rejects.toThrow('disk full')
  })

  it('a round over chosen runs is not complete: the peer sends none of the others', async () => {
    const a = replica()
    const b = replica()
    a.runs_.set('r1', run('r1', 'a', ['x']))
    b.runs_.set('r1', run('r1', 'a', ['x']))
    b.runs_.set('r2', run('r2', 'b', ['y']))
    const client = {
      call: async <T>(_m: string, params?: unknown) => answerSync(b, params as never, 'a') as T,
    }
    const stats = await syncWith(client, a, 'b', { complete: false })
    expect(stats.received).toBe(0)
    expect(a.runs_.has('r2')).toBe(false)
    expect(stats.confirmed.has('r1')).toBe(true)
  })

  it('skips malformed deltas and digests instead of failing the round', () => {
    const b = replica()
    b.runs_.set('r1', run('r1', 'b', ['x']))
    const answer = answerSync(
      b,
      {
        deltas: [{ v: 1, run: '../etc' }, { nope: true }] as never,
        digests: [{ run: 'r1', hash: 'zz', buckets: [] }] as never,
      },
      'a',
    )
    expect(answer.deltas).toEqual([])
    expect(b.runs_.size).toBe(1)
  })
})

describe('topic validators', () => {
  async function harness() {
    const validators = new Map<string, (from: unknown, message: unknown) => TopicValidatorResult>()
    const pubsub = {
      topicValidators: validators,
      addEventListener: () => {},
      removeEventListener: () => {},
      subscribe: () => {},
      unsubscribe: () => {},
      publish: async () => ({ recipients: [] }),
      getSubscribers: () => [],
    }
    const coordinator = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const client = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const policy = TrustPolicy.parse({
      keys: [
        { key: coordinator.toString(), roles: ['coordinator'] },
        { key: client.toString(), roles: ['client'], capabilities: ['*'] },
      ],
    })
    const publisher = trustedPublisher(() => policy, 'coordinator')
    return { pubsub, validators, coordinator, client, stranger, publisher }
  }

  it('state deltas are accepted only signed, from a coordinator, and decodable', async () => {
    const { pubsub, validators, coordinator, client, stranger, publisher } = await harness()
    const gossip = new StateGossip({
      pubsub: pubsub as never,
      log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never,
      publisher,
      onDelta: () => {},
    })
    gossip.start()
    const validate = validators.get(STATE_TOPIC) as (from: unknown, message: unknown) => TopicValidatorResult
    const data = encodeDelta(run('r1', 'x', ['a']))
    const signed = (from: unknown, bytes: Uint8Array) => ({
      type: 'signed',
      from,
      topic: STATE_TOPIC,
      data: bytes,
    })
    expect(validate(coordinator, signed(coordinator, data))).toBe(TopicValidatorResult.Accept)
    // A stranger sending its own delta is penalised; the same delta relayed by a peer (which may
    // trust keys this node does not) is only dropped, so the relay is not.
    expect(validate(stranger, signed(stranger, data))).toBe(TopicValidatorResult.Reject)
    expect(validate(coordinator, signed(stranger, data))).toBe(TopicValidatorResult.Ignore)
    // A known key writing state without the coordinator role is refused whoever passes it on.
    expect(validate(client, signed(client, data))).toBe(TopicValidatorResult.Reject)
    expect(validate(coordinator, signed(client, data))).toBe(TopicValidatorResult.Reject)
    expect(validate(coordinator, signed(coordinator, new TextEncoder().encode('{"v":1,"run":"a/b"}')))).toBe(
      TopicValidatorResult.Reject,
    )
    expect(validate(coordinator, { type: 'unsigned', topic: STATE_TOPIC, data })).toBe(
      TopicValidatorResult.Reject,
    )
    expect(gossip.stats()).toEqual({
      topic: STATE_TOPIC,
      published: 0,
      accepted: 1,
      rejected: { untrusted_publisher: 1, role_denied: 2, malformed: 1, unsigned: 1 },
      ignored: { untrusted_publisher: 1 },
    })
    gossip.stop()
    expect(validators.has(STATE_TOPIC)).toBe(false)
  })

  it('monitor events must come from a coordinator, be well formed and name their publisher', async () => {
    const { pubsub, validators, coordinator, client, stranger, publisher } = await harness()
    const gossip = new EventsGossip({
      pubsub: pubsub as never,
      log: (() => {}) as never,
      publisher,
      onEvent: () => {},
    })
    gossip.start()
    const validate = validators.get(EVENTS_TOPIC) as (from: unknown, message: unknown) => TopicValidatorResult
    const event = {
      type: 'node_status' as const,
      severity: 'info' as const,
      at: new Date().toISOString(),
      node: coordinator.toString(),
      message: 'hi',
    }
    const msg = (from: unknown, data: Uint8Array) => ({ type: 'signed', from, topic: EVENTS_TOPIC, data })
    const batch = (...events: object[]) => new TextEncoder().encode(JSON.stringify(events))
    expect(validate(coordinator, msg(coordinator, batch(event)))).toBe(TopicValidatorResult.Accept)
    expect(validate(stranger, msg(stranger, batch(event)))).toBe(TopicValidatorResult.Reject)
    const fromClient = { ...event, type: 'workflow_completed' as const, node: client.toString() }
    expect(validate(client, msg(client, batch(fromClient)))).toBe(TopicValidatorResult.Reject)
    expect(validate(coordinator, msg(coordinator, batch({ ...event, type: 'made_up' })))).toBe(
      TopicValidatorResult.Reject,
    )
    const impersonating = batch({ ...event, node: client.toString() })
    expect(validate(coordinator, msg(coordinator, impersonating))).toBe(TopicValidatorResult.Reject)
    // A lone event (the v1 shape) is not a batch.
    expect(validate(coordinator, msg(coordinator, encodeMonitorEvent(event)))).toBe(
      TopicValidatorResult.Reject,
    )
    expect(gossip.stats()).toMatchObject({
      accepted: 1,
      rejected: { untrusted_publisher: 1, role_denied: 1, malformed: 3 },
    })
    gossip.stop()
  })
})
