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
  /**
   * Ids of the runs to compare with `peer`: every run held that `peer` should hold too (with
   * sharded run state, those whose replica set includes it).
   */
  runs(peer: string): Iterable<string>
  state(run: string): RunState | undefined
  /** Merges state a peer sent. */
  apply(delta: RunState, from: string): void
  /**
   * Resolves once everything merged so far is on disk, rejects when that cannot be promised (a
   * failed write): an answer tells the caller what this replica holds, and a replica that gives a
   * run up on that word must not lose it to a crash here.
   */
  durable?(): Promise<void>
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
  /**
   * Runs the peer held everything of, as this replica stood when the round ended: its digest was
   * equal, or what it lacked was sent and acknowledged. A replica leaving a run's set drops it
   * only once every member confirmed it (../../../roles/coordinator/service/replica-handoff.ts).
   */
  confirmed: Map<string, number>
}

/**
 * `state` encoded for a sync call, with each encoding's length: whole when it fits the budget
 * (encoded once), else in parts (`RunState.parts`) that each do.
 */
export function* encodedParts(state: RunState): Generator<{ json: RunStateJson; size: number }> {
  const json = state.toJSON()
  const size = JSON.stringify(json).length
  if (size <= SYNC_BUDGET_BYTES) {
    yield { json, size }
    return
  }
  for (const part of state.parts(SYNC_BUDGET_BYTES)) {
    const partJson = part.toJSON()
    yield { json: partJson, size: JSON.stringify(partJson).length }
  }
}

/**
 * Collects deltas until the byte budget is spent (always at least one part). A run bigger than the
 * budget goes in parts (`RunState.parts`); what does not fit goes in the next round.
 */
class Budget {
  readonly items: RunStateJson[] = []
  #used = 0

  /** Adds `state` if it fits; true when all of it was added (or it had nothing to send). */
  add(state: RunState): boolean {
    if (state.isEmpty()) return true
    for (const { json, size } of encodedParts(state)) {
      if (this.items.length > 0 && this.#used + size > SYNC_BUDGET_BYTES) return false
      this.items.push(json)
      this.#used += size
    }
    return true
  }
}

function applyAll(
  host: SyncHost,
  deltas: readonly unknown[] | undefined,
  from: string,
  skip: (run: string) => boolean = () => false,
): number {
  let n = 0
  for (const raw of deltas ?? []) {
    // A malformed run is skipped; the rest of the batch still counts.
    let delta: RunState
    try {
      delta = RunState.fromJSON(raw)
    } catch {
      continue
    }
    if (skip(delta.run)) continue
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
    for (const run of host.runs(from)) {
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
  options: {
    signal?: AbortSignal
    /**
     * May the peer take the listed runs as all this replica shares with it (and send the runs
     * missing from the list)? False for a round over a few chosen runs. @default true when every
     * shared run fits in one call
     */
    complete?: boolean
  } = {},
): Promise<SyncStats> {
  const all = [...host.runs(peer)]
  const digests: RunDigest[] = []
  // The local version each run was compared at: a run that changed since is not confirmed.
  const versions = new Map<string, number>()
  for (const run of all.slice(0, MAX_SYNC_DIGESTS)) {
    const state = host.state(run)
    if (state === undefined) continue
    digests.push(state.digest())
    versions.set(run, state.version)
  }
  const call = options.signal === undefined ? {} : { signal: options.signal }
  const params: SyncParams = {
    digests,
    complete: options.complete !== false && all.length <= MAX_SYNC_DIGESTS,
  }
  const answer = await client.call<SyncAnswer>(
    SYNC_METHOD,
    params as unknown as Record<string, unknown>,
    call,
  )
  // A run compared in this round but no longer held left this replica meanwhile (handed off to
  // its set): the answer holds only what differed, which must not bring back a partial copy.
  const received = applyAll(
    host,
    answer.deltas,
    peer,
    (run) => versions.has(run) && host.state(run) === undefined,
  )
  // A run whose digest the peer did not send back was equal at the peer.
  const differing = new Set<string>()
  const budget = new Budget()
  const sending = new Map<string, number>()
  let full = false
  for (const raw of answer.digests ?? []) {
    let remote: RunDigest
    try {
      remote = decodeDigest(raw)
    } catch {
      continue
    }
    differing.add(remote.run)
    const local = host.state(remote.run)
    if (local === undefined || full) continue
    const version = local.version
    if (budget.add(local.deltaFor(remote))) sending.set(local.run, version)
    else full = true
  }
  if (budget.items.length > 0) {
    await client.call(SYNC_METHOD, { deltas: budget.items } as unknown as Record<string, unknown>, call)
  }
  const confirmed = new Map<string, number>()
  for (const [run, version] of versions) if (!differing.has(run)) confirmed.set(run, version)
  for (const [run, version] of sending) confirmed.set(run, version)
  return { received, sent: budget.items.length, confirmed }
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
    // Replication has its own budget of calls per coordinator (see `MethodDefinition.limitGroup`).
    limitGroup: 'replication',
    authorize: (caller: Caller) =>
      caller.via === 'libp2p' && caller.peerId !== undefined && isCoordinator(caller.peerId),
    handler: async (params, ctx) => {
      const answer = answerSync(host, params, ctx.caller.peerId ?? 'unknown')
      // "Equal" and "received" are promises about what this replica keeps: only once on disk.
      await host.durable?.()
      return answer
    },
  }
}
