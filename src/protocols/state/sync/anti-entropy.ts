/**
 * Anti-entropy between coordinators over RPC (`coordinator.sync`): gossip can be lost across a
 * partition, so replicas periodically (and whenever two coordinators meet) compare bucketed
 * digests and send each other what differs — the exchange of ../README.md, batched over runs:
 *
 * ```
 * A → B: sync { digests: A's digests, complete }       B applies nothing yet
 * B → A: { deltas: B.deltaFor(digestA) | B's runs A lacks, digests: B's digests where they differ }
 * A → B: sync { deltas: A.deltaFor(digestB) }           (only when A has something B lacks)
 * ```
 *
 * Equal runs cost one hash comparison. Answers stay under a byte budget; what does not fit goes
 * in the next round.
 */
import type { RpcClient } from '../../rpc/client.js'
import type { Caller, MethodDefinition } from '../../rpc/definitions.js'
import type { RunStateJson } from '../codec.js'
import { decodeDigest, type RunDigest } from '../digest.js'
import { RunState } from '../run-state.js'
import { MAX_SYNC_DIGESTS, SYNC_BUDGET_BYTES, SYNC_METHOD } from './constants.js'

/** The replica the protocol reads and writes: the coordinator's run table. */
export interface SyncHost {
  /** Ids of every run held. */
  runs(): Iterable<string>
  state(run: string): RunState | undefined
  /** Merges state a peer sent. */
  apply(delta: RunState, from: string): void
}

export interface SyncParams {
  digests?: RunDigest[]
  /** True when `digests` lists every run the caller holds (so the callee sends runs it lacks). */
  complete?: boolean
  deltas?: RunStateJson[]
}

export interface SyncAnswer {
  deltas: RunStateJson[]
  digests: RunDigest[]
}

export interface SyncStats {
  /** Run deltas received and merged. */
  received: number
  /** Run deltas sent. */
  sent: number
}

/** Collects deltas until the byte budget is spent (always at least one). */
class Budget {
  readonly items: RunStateJson[] = []
  #used = 0

  add(state: RunState): boolean {
    if (state.isEmpty()) return true
    const json = state.toJSON()
    const size = JSON.stringify(json).length
    if (this.items.length > 0 && this.#used + size > SYNC_BUDGET_BYTES) return false
    this.items.push(json)
    this.#used += size
    return true
  }
}

function applyAll(host: SyncHost, deltas: readonly unknown[] | undefined, from: string): number {
  let n = 0
  for (const raw of deltas ?? []) {
    // A malformed run is skipped; the rest of the batch still counts.
    let delta: RunState
    try {
      delta = RunState.fromJSON(raw)
    } catch {
      continue
    }
    host.apply(delta, from)
    n++
  }
  return n
}

/** What the callee answers: deltas the caller lacks, and its digests where they differ. */
export function answerSync(host: SyncHost, params: SyncParams, from: string): SyncAnswer {
  applyAll(host, params.deltas, from)
  const budget = new Budget()
  const digests: RunDigest[] = []
  const listed = new Set<string>()
  for (const raw of params.digests ?? []) {
    let remote: RunDigest
    try {
      remote = decodeDigest(raw)
    } catch {
      continue
    }
    listed.add(remote.run)
    const local = host.state(remote.run)
    if (local === undefined) {
      // Ask for all of it: an empty replica's digest differs in every bucket that holds anything.
      digests.push(new RunState(remote.run).digest())
      continue
    }
    const mine = local.digest()
    if (mine.hash === remote.hash) continue
    digests.push(mine)
    budget.add(local.deltaFor(remote))
  }
  if (params.complete === true) {
    for (const run of host.runs()) {
      if (listed.has(run)) continue
      const local = host.state(run)
      if (local !== undefined && !budget.add(local)) break
    }
  }
  return { deltas: budget.items, digests }
}

/** One anti-entropy round with the coordinator behind `client` (`peer` names it for `apply`). */
export async function syncWith(
  client: Pick<RpcClient, 'call'>,
  host: SyncHost,
  peer: string,
  options: { signal?: AbortSignal } = {},
): Promise<SyncStats> {
  const all = [...host.runs()]
  const digests: RunDigest[] = []
  for (const run of all.slice(0, MAX_SYNC_DIGESTS)) {
    const state = host.state(run)
    if (state !== undefined) digests.push(state.digest())
  }
  const call = options.signal === undefined ? {} : { signal: options.signal }
  const params: SyncParams = { digests, complete: all.length <= MAX_SYNC_DIGESTS }
  const answer = await client.call<SyncAnswer>(
    SYNC_METHOD,
    params as unknown as Record<string, unknown>,
    call,
  )
  const received = applyAll(host, answer.deltas, peer)
  const budget = new Budget()
  for (const raw of answer.digests ?? []) {
    let remote: RunDigest
    try {
      remote = decodeDigest(raw)
    } catch {
      continue
    }
    const local = host.state(remote.run)
    if (local !== undefined && !budget.add(local.deltaFor(remote))) break
  }
  if (budget.items.length > 0) {
    await client.call(SYNC_METHOD, { deltas: budget.items } as unknown as Record<string, unknown>, call)
  }
  return { received, sent: budget.items.length }
}

const DIGEST_SCHEMA = {
  type: 'object',
  required: ['run', 'hash', 'buckets'],
  properties: {
    run: { type: 'string' },
    hash: { type: 'string' },
    buckets: { type: 'array', items: { type: 'string' } },
  },
} as const

/** The `coordinator.sync` method; only peers `isCoordinator` admits may call it. */
export function syncMethod(
  host: SyncHost,
  isCoordinator: (peerId: string) => boolean,
): MethodDefinition<SyncParams, SyncAnswer> {
  return {
    name: SYNC_METHOD,
    summary: 'Anti-entropy between coordinators: exchange run-state digests and the deltas that differ.',
    role: 'coordinator',
    params: {
      type: 'object',
      properties: {
        digests: { type: 'array', maxItems: MAX_SYNC_DIGESTS, items: DIGEST_SCHEMA },
        complete: { type: 'boolean' },
        deltas: { type: 'array', items: { type: 'object' } },
      },
      additionalProperties: false,
    },
    result: {
      type: 'object',
      required: ['deltas', 'digests'],
      properties: {
        deltas: { type: 'array', items: { type: 'object' } },
        digests: { type: 'array', items: DIGEST_SCHEMA },
      },
    },
    resultName: 'sync answer',
    authorize: (caller: Caller) =>
      caller.via === 'libp2p' && caller.peerId !== undefined && isCoordinator(caller.peerId),
    handler: (params, ctx) => answerSync(host, params, ctx.caller.peerId ?? 'unknown'),
  }
}
