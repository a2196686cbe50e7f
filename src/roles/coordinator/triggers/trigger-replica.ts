/**
 * Moves the trigger set (trigger-set.ts) between coordinators: every change is persisted and
 * published on `horus/v1/triggers` (only coordinators the trust policy admits may publish there,
 * anything else is rejected), and `coordinator.sync_triggers` repairs what gossip lost:
 *
 * ```
 * A → B: sync_triggers { fingerprints: A's (name → stamp|tick) }
 * B → A: { records: what A lacks or holds older (within a byte budget), want: names B lacks }
 * A → B: sync_triggers { records: those }                       (only when B wants some)
 * ```
 */
import type { Logger } from '@libp2p/interface'
import { type Datastore, Key } from 'interface-datastore'
import { type TopicPubSub, ValidatedTopic } from '../../../protocols/gossip/validated-topic.js'
import type { RpcClient } from '../../../protocols/rpc/client.js'
import type { Caller, MethodDefinition } from '../../../protocols/rpc/definitions.js'
import { isPlainObject } from '../../../protocols/state/json-value.js'
import { MAX_TRIGGERS, TriggerSet, type TriggerSetJson } from './trigger-set.js'

export const TRIGGER_TOPIC = 'horus/v1/triggers'
export const TRIGGER_SYNC_METHOD = 'coordinator.sync_triggers'
const STORE_KEY = new Key('/horus/coordinator/trigger-set')
/** Largest trigger delta published on the topic; a bigger one travels by anti-entropy. */
const MAX_GOSSIP_BYTES = 900_000
/** Soft budget of the records one sync answer carries. */
const SYNC_BUDGET_BYTES = 600_000

export interface TriggerReplicaInit {
  pubsub: TopicPubSub
  datastore: Datastore
  log: Logger
  /** Whether a peer may write triggers (trust role `coordinator`). */
  isCoordinator(peer: string): boolean
  /** The set changed (locally or by merge). */
  onChange(): void
}

interface SyncParams {
  fingerprints?: Record<string, string>
  records?: TriggerSetJson
}

interface SyncAnswer {
  records: TriggerSetJson
  want: string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class TriggerReplica {
  readonly set = new TriggerSet()
  readonly #init: TriggerReplicaInit
  readonly #topic: ValidatedTopic<TriggerSet>
  #persisting: Promise<void> = Promise.resolve()

  constructor(init: TriggerReplicaInit) {
    this.#init = init
    this.#topic = new ValidatedTopic({
      pubsub: init.pubsub,
      topic: TRIGGER_TOPIC,
      decode: (data, from) => (init.isCoordinator(from) ? decodeSet(data) : undefined),
      deliver: (delta) => this.merge(delta),
    })
  }

  async start(): Promise<void> {
    try {
      this.set.merge(
        TriggerSet.fromJSON(JSON.parse(decoder.decode(await this.#init.datastore.get(STORE_KEY)))),
      )
    } catch (err) {
      const notFound = (err as { name?: string }).name === 'NotFoundError'
      if (!notFound) this.#init.log.error('stored trigger set ignored: %s', (err as Error).message)
    }
    this.#topic.start()
  }

  async stop(): Promise<void> {
    this.#topic.stop()
    await this.#persisting
  }

  /** Applies a local change: persisted, published, and reported. */
  commit(delta: TriggerSet): void {
    this.#persist()
    const data = encoder.encode(JSON.stringify(delta.toJSON()))
    if (data.byteLength <= MAX_GOSSIP_BYTES)
      this.#topic.publish(data, (err) => this.#init.log('publishing a trigger change: %s', err.message))
    this.#init.onChange()
  }

  /** Joins a peer's set or delta; returns whether anything changed. */
  merge(remote: TriggerSet): boolean {
    if (!this.set.merge(remote)) return false
    this.#persist()
    this.#init.onChange()
    return true
  }

  /** One anti-entropy round with the coordinator behind `client`. */
  async syncWith(client: Pick<RpcClient, 'call'>, signal?: AbortSignal): Promise<void> {
    const options = signal === undefined ? {} : { signal }
    const answer = await client.call<SyncAnswer>(
      TRIGGER_SYNC_METHOD,
      { fingerprints: fingerprints(this.set) },
      options,
    )
    this.merge(TriggerSet.fromJSON(answer.records))
    const want = (answer.want ?? []).filter((name) => typeof name === 'string')
    if (want.length > 0)
      await client.call(
        TRIGGER_SYNC_METHOD,
        { records: this.#recordsFor(want) } as unknown as Record<string, unknown>,
        options,
      )
  }

  /** The `coordinator.sync_triggers` method; only peers `isCoordinator` admits may call it. */
  syncMethod(): MethodDefinition<SyncParams, SyncAnswer> {
    return {
      name: TRIGGER_SYNC_METHOD,
      summary: 'Anti-entropy of the replicated triggers between coordinators.',
      role: 'coordinator',
      params: {
        type: 'object',
        properties: {
          fingerprints: {
            type: 'object',
            maxProperties: MAX_TRIGGERS,
            additionalProperties: { type: 'string' },
          },
          records: { type: 'object' },
        },
        additionalProperties: false,
      },
      result: {
        type: 'object',
        required: ['records', 'want'],
        properties: { records: { type: 'object' }, want: { type: 'array', items: { type: 'string' } } },
      },
      resultName: 'trigger sync answer',
      limitGroup: 'replication',
      authorize: (caller: Caller) =>
        caller.via === 'libp2p' && caller.peerId !== undefined && this.#init.isCoordinator(caller.peerId),
      handler: (params) => {
        if (params.records !== undefined) this.merge(TriggerSet.fromJSON(params.records))
        const theirs = params.fingerprints ?? {}
        const mine = fingerprints(this.set)
        const send = Object.keys(mine).filter((name) => theirs[name] !== mine[name])
        const want = Object.keys(theirs).filter((name) => theirs[name] !== mine[name])
        return { records: this.#recordsFor(send), want: params.fingerprints === undefined ? [] : want }
      },
    }
  }

  #recordsFor(names: readonly string[]): TriggerSetJson {
    const all = this.set.toJSON()
    const records: Record<string, (typeof all.records)[string]> = {}
    const ticks: Record<string, number> = {}
    let used = 0
    for (const name of names) {
      const record = all.records[name]
      const size = record === undefined ? 0 : JSON.stringify(record).length
      if (used > 0 && used + size > SYNC_BUDGET_BYTES) break
      if (record !== undefined) records[name] = record
      const tick = all.ticks?.[name]
      if (tick !== undefined) ticks[name] = tick
      used += size
    }
    return Object.keys(ticks).length === 0 ? { records } : { records, ticks }
  }

  #persist(): void {
    const data = encoder.encode(JSON.stringify(this.set.toJSON()))
    this.#persisting = this.#persisting
      .then(() => this.#init.datastore.put(STORE_KEY, data))
      .then(
        () => undefined,
        (err: Error) => this.#init.log.error('persisting the trigger set failed: %s', err.message),
      )
  }
}

/** `name → stamp|tick`: equal fingerprints, equal records. */
function fingerprints(set: TriggerSet): Record<string, string> {
  const json = set.toJSON()
  const out: Record<string, string> = {}
  for (const name of new Set([...Object.keys(json.records), ...Object.keys(json.ticks ?? {})]))
    out[name] = `${json.records[name]?.hlc ?? ''}|${json.ticks?.[name] ?? ''}`
  return out
}

function decodeSet(data: Uint8Array): TriggerSet | undefined {
  if (data.byteLength > MAX_GOSSIP_BYTES) return undefined
  try {
    const value: unknown = JSON.parse(decoder.decode(data))
    return isPlainObject(value) ? TriggerSet.fromJSON(value) : undefined
  } catch {
    return undefined
  }
}
