/**
 * Sends each run's deltas to the other members of its replica set, and to no one else (state is
 * sharded: ../../../protocols/state/README.md, "Where runs live"). Deltas of one turn are merged
 * per run and per peer, and one `coordinator.sync` call per peer carries them (the method applies
 * `deltas` exactly as it does in anti-entropy, and only from a trusted coordinator). At most one
 * call per peer is in flight; what changes meanwhile goes in the next. A delta goes only to a peer
 * that is still a trusted member of its run's set when it leaves. A push that fails is not
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
  /**
   * Is `peer`, now, a trusted member of the run's set? Checked again when a push leaves: a delta
   * queued before a revocation or a set change is not sent to a peer that no longer holds the run.
   */
  belongs(run: string, peer: string): boolean
  /** How long one push may take. @default 10_000 */
  timeoutMs?: number
}

/** Deltas pushed and pushes that failed (repaired later by anti-entropy). */
export interface ReplicaPushStats {
  pushed: number
  failed: number
}

interface Waiter {
  /** Settled once the pushes queued up to this sequence number were sent (or failed). */
  upTo: number
  resolve: () => void
}

export class ReplicaPush {
  readonly stats: ReplicaPushStats = { pushed: 0, failed: 0 }
  private readonly init: ReplicaPushInit
  /** peer → run → the merged deltas not sent yet. */
  private readonly outbox = new Map<string, Map<string, RunState>>()
  private readonly busy = new Set<string>()
  /** peer → runs whose queued delta may dial it (a takeover told to its previous owner). */
  private readonly dial = new Map<string, Set<string>>()
  /** peer → sequence number of the last push queued for it, and of the last one sent. */
  private readonly queued = new Map<string, number>()
  private readonly sent = new Map<string, number>()
  /** Who waits for a peer's pushes (`settled`). */
  private readonly waiters = new Map<string, Waiter[]>()
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
    this.dial.clear()
    for (const list of this.waiters.values()) for (const w of list.splice(0)) w.resolve()
  }

  /** Queues `delta` for each of `peers`; `dial`: even a peer not connected now. */
  push(delta: RunState, peers: readonly string[], options: { dial?: boolean } = {}): void {
    if (!this.running || delta.isEmpty()) return
    for (const peer of peers) {
      if (options.dial === true) {
        const runs = this.dial.get(peer) ?? new Set()
        runs.add(delta.run)
        this.dial.set(peer, runs)
      }
      let runs = this.outbox.get(peer)
      if (runs === undefined) {
        runs = new Map()
        this.outbox.set(peer, runs)
      }
      const queued = runs.get(delta.run)
      if (queued === undefined) runs.set(delta.run, delta.clone())
      else queued.merge(delta)
      this.queued.set(peer, (this.queued.get(peer) ?? 0) + 1)
      if (!this.busy.has(peer)) {
        this.busy.add(peer)
        setImmediate(() => {
          void this.drain(peer).finally(() => this.busy.delete(peer))
        })
      }
    }
  }

  /**
   * Resolves once what is queued for `peer` now was sent (or failed), not what is queued later (a
   * busy owner keeps queueing): a call forwarded to it after this finds those deltas merged there.
   * An abort of `signal` resolves it early.
   */
  settled(peer: string, signal?: AbortSignal): Promise<void> {
    const upTo = this.queued.get(peer) ?? 0
    if ((this.sent.get(peer) ?? 0) >= upTo || signal?.aborted === true) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter: Waiter = {
        upTo,
        resolve: () => {
          signal?.removeEventListener('abort', waiter.resolve)
          resolve()
        },
      }
      signal?.addEventListener('abort', waiter.resolve, { once: true })
      const list = this.waiters.get(peer) ?? []
      list.push(waiter)
      this.waiters.set(peer, list)
    })
  }

  private markSent(peer: string, upTo: number): void {
    this.sent.set(peer, upTo)
    const list = this.waiters.get(peer)
    if (list === undefined) return
    const still = list.filter((w) => w.upTo > upTo)
    for (const w of list) if (w.upTo <= upTo) w.resolve()
    if (still.length === 0) this.waiters.delete(peer)
    else this.waiters.set(peer, still)
  }

  private async drain(peer: string): Promise<void> {
    for (;;) {
      const runs = this.outbox.get(peer)
      if (!this.running || runs === undefined || runs.size === 0) return
      const upTo = this.queued.get(peer) ?? 0
      this.outbox.delete(peer)
      const dialRuns = this.dial.get(peer) ?? new Set<string>()
      this.dial.delete(peer)
      const dialling: RunState[] = []
      const riding: RunState[] = []
      for (const delta of runs.values()) {
        if (dialRuns.has(delta.run)) dialling.push(delta)
        else if (this.init.belongs(delta.run, peer)) riding.push(delta)
      }
      if (riding.length > 0 && !this.init.connected(peer)) {
        this.stats.failed += riding.length
        riding.length = 0
      }
      await this.send(peer, dialling, true)
      await this.send(peer, riding, false)
      this.markSent(peer, upTo)
    }
  }

  private async send(peer: string, deltas: RunState[], dial: boolean): Promise<void> {
    for (const batch of batches(deltas)) {
      try {
        await this.init
          .client(peer, { dial })
          .call(SYNC_METHOD, { deltas: batch }, { timeoutMs: this.init.timeoutMs ?? 10_000 })
        this.stats.pushed += batch.length
      } catch (err) {
        this.stats.failed += batch.length
        this.init.log('pushing %d run delta(s) to %s failed: %s', batch.length, peer, (err as Error).message)
      }
    }
  }
}

/** Splits deltas into calls that stay within the sync byte budget (a big delta goes in parts). */
function* batches(deltas: Iterable<RunState>): Generator<unknown[]> {
  let batch: unknown[] = []
  let used = 0
  for (const delta of deltas) {
    for (const part of delta.parts(SYNC_BUDGET_BYTES)) {
      const json = part.toJSON()
      const size = JSON.stringify(json).length
      if (batch.length > 0 && used + size > SYNC_BUDGET_BYTES) {
        yield batch
        batch = []
        used = 0
      }
      batch.push(json)
      used += size
    }
  }
  if (batch.length > 0) yield batch
}
