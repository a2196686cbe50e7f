/**
 * Sends each run's deltas to the other members of its replica set, and to no one else (state is
 * sharded: ../../../protocols/state/README.md, "Where runs live"). Deltas of one turn are merged
 * per run and per peer, and one `coordinator.sync` call per peer carries them (the method applies
 * `deltas` exactly as it does in anti-entropy, and only from a trusted coordinator). At most one
 * call per peer is in flight; what changes meanwhile goes in the next. A push that fails is not
 * retried, and a push only rides a connection already open: a member this node has no connection
 * to, or whose connection closes under the push, is never dialled for one (a partition would turn
 * every change into a dial, and a redial at the addresses still known would carry state across
 * it): the anti-entropy round when they meet again, or the next periodic one, brings the peer
 * what it lacks. The one exception is a takeover told to a revoked owner (`dial`).
 */
import type { Logger } from '@libp2p/interface'
import type { RpcClient } from '../../../protocols/rpc/index.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { SYNC_BUDGET_BYTES, SYNC_METHOD } from '../../../protocols/state/sync/index.js'

export interface ReplicaPushInit {
  log: Logger
  /** The session a push rides: `dial` false, only a connection already open (never a dial). */
  client(peer: string, options: { dial: boolean }): Pick<RpcClient, 'call'>
  /** Is there an open connection to `peer`? */
  connected(peer: string): boolean
  /** How long one push may take. @default 10_000 */
  timeoutMs?: number
}

/** Deltas pushed and pushes that failed (repaired later by anti-entropy). */
export interface ReplicaPushStats {
  pushed: number
  failed: number
}

export class ReplicaPush {
  readonly stats: ReplicaPushStats = { pushed: 0, failed: 0 }
  private readonly init: ReplicaPushInit
  /** peer → run → the merged deltas not sent yet. */
  private readonly outbox = new Map<string, Map<string, RunState>>()
  private readonly busy = new Set<string>()
  /** Peers a queued delta may dial (a takeover told to its previous owner). */
  private readonly dial = new Set<string>()
  /** Who waits for a peer's outbox to drain (`settled`). */
  private readonly waiters = new Map<string, Array<() => void>>()
  private running = false

  constructor(init: ReplicaPushInit) {
    this.init = init
  }

  start(): void {
    this.running = true
  }

  stop(): void {
    this.running = false
    this.outbox.clear()
    for (const list of this.waiters.values()) for (const resolve of list.splice(0)) resolve()
  }

  /** Queues `delta` for each of `peers`; `dial`: even a peer not connected now. */
  push(delta: RunState, peers: readonly string[], options: { dial?: boolean } = {}): void {
    if (!this.running || delta.isEmpty()) return
    for (const peer of peers) {
      if (options.dial === true) this.dial.add(peer)
      let runs = this.outbox.get(peer)
      if (runs === undefined) {
        runs = new Map()
        this.outbox.set(peer, runs)
      }
      const queued = runs.get(delta.run)
      if (queued === undefined) runs.set(delta.run, delta.clone())
      else queued.merge(delta)
      if (!this.busy.has(peer)) {
        this.busy.add(peer)
        setImmediate(() => {
          void this.drain(peer).finally(() => {
            this.busy.delete(peer)
            for (const resolve of this.waiters.get(peer)?.splice(0) ?? []) resolve()
          })
        })
      }
    }
  }

  /**
   * Resolves once what is queued for `peer` now was sent (or failed): a call forwarded to it
   * after this finds the deltas already merged there.
   */
  settled(peer: string): Promise<void> {
    if (!this.busy.has(peer)) return Promise.resolve()
    return new Promise((resolve) => {
      const list = this.waiters.get(peer) ?? []
      list.push(resolve)
      this.waiters.set(peer, list)
    })
  }

  private async drain(peer: string): Promise<void> {
    for (;;) {
      const runs = this.outbox.get(peer)
      if (!this.running || runs === undefined || runs.size === 0) return
      this.outbox.delete(peer)
      const mayDial = this.dial.delete(peer)
      if (!mayDial && !this.init.connected(peer)) {
        this.stats.failed += runs.size
        continue
      }
      for (const batch of batches(runs.values())) {
        try {
          await this.init
            .client(peer, { dial: mayDial })
            .call(SYNC_METHOD, { deltas: batch }, { timeoutMs: this.init.timeoutMs ?? 10_000 })
          this.stats.pushed += batch.length
        } catch (err) {
          this.stats.failed += batch.length
          this.init.log(
            'pushing %d run delta(s) to %s failed: %s',
            batch.length,
            peer,
            (err as Error).message,
          )
        }
      }
    }
  }
}

/** Splits deltas into calls that stay within the sync byte budget (at least one delta each). */
function* batches(deltas: Iterable<RunState>): Generator<unknown[]> {
  let batch: unknown[] = []
  let used = 0
  for (const delta of deltas) {
    const json = delta.toJSON()
    const size = JSON.stringify(json).length
    if (batch.length > 0 && used + size > SYNC_BUDGET_BYTES) {
      yield batch
      batch = []
      used = 0
    }
    batch.push(json)
    used += size
  }
  if (batch.length > 0) yield batch
}
