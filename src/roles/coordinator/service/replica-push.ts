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
 * what it lacks. The one exception is a takeover told to a revoked owner (`dial`), which is also
 * sent again when it fails (a revoked peer gets no anti-entropy rounds to learn it from).
 */
import type { Logger } from '@libp2p/interface'
import type { RpcClient } from '../../../protocols/rpc/index.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { encodedParts, SYNC_BUDGET_BYTES, SYNC_METHOD } from '../../../protocols/state/sync/index.js'

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
  /** The first delay before a failed takeover note is sent again (then doubling). @default NOTE_RETRY_MS */
  noteRetryMs?: number
}

/** Times a takeover note is sent at most. */
const NOTE_ATTEMPTS = 6
/** The first delay before a failed takeover note is sent again: then 2, 4, 8, 16 s (31 s in all). */
const NOTE_RETRY_MS = 1_000

function noteKey(peer: string, run: string): string {
  return `${peer}\n${run}`
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
  /** `peer\nrun` → times its takeover note was sent and failed (`retryNote`). */
  private readonly noteAttempts = new Map<string, number>()
  private readonly noteTimers = new Set<NodeJS.Timeout>()

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
    for (const timer of this.noteTimers) clearTimeout(timer)
    this.noteTimers.clear()
    this.noteAttempts.clear()
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
      // A takeover note goes alone, so that one that fails can be sent again (`retryNote`).
      for (const note of dialling) {
        if (await this.send(peer, [note], true)) this.noteAttempts.delete(noteKey(peer, note.run))
        else this.retryNote(peer, note)
      }
      await this.send(peer, riding, false)
      this.markSent(peer, upTo)
    }
  }

  /** Sends `deltas` to `peer`; true when every call was answered. */
  private async send(peer: string, deltas: RunState[], dial: boolean): Promise<boolean> {
    let ok = true
    for (const batch of batches(deltas)) {
      try {
        await this.init
          .client(peer, { dial })
          .call(SYNC_METHOD, { deltas: batch }, { timeoutMs: this.init.timeoutMs ?? 10_000 })
        this.stats.pushed += batch.length
      } catch (err) {
        ok = false
        this.stats.failed += batch.length
        this.init.log('pushing %d run delta(s) to %s failed: %s', batch.length, peer, (err as Error).message)
      }
    }
    return ok
  }

  /**
   * A takeover note its revoked owner did not get (unreachable then): sent again with a doubling
   * delay, up to NOTE_ATTEMPTS times. Anti-entropy never runs with a revoked peer, so this note is
   * the only way it learns to stop driving the run.
   */
  private retryNote(peer: string, note: RunState): void {
    const key = noteKey(peer, note.run)
    const attempts = (this.noteAttempts.get(key) ?? 0) + 1
    if (attempts >= NOTE_ATTEMPTS || !this.running) {
      this.noteAttempts.delete(key)
      this.init.log(
        'gave up telling %s of the takeover of run %s after %d attempts',
        peer,
        note.run,
        attempts,
      )
      return
    }
    this.noteAttempts.set(key, attempts)
    const timer = setTimeout(
      () => {
        this.noteTimers.delete(timer)
        this.push(note, [peer], { dial: true })
      },
      (this.init.noteRetryMs ?? NOTE_RETRY_MS) * 2 ** (attempts - 1),
    )
    timer.unref()
    this.noteTimers.add(timer)
  }
}

/** Splits deltas into calls that stay within the sync byte budget (a big delta goes in parts). */
function* batches(deltas: Iterable<RunState>): Generator<unknown[]> {
  let batch: unknown[] = []
  let used = 0
  for (const delta of deltas) {
    for (const { json, size } of encodedParts(delta)) {
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
