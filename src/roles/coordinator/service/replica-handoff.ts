/**
 * A coordinator that is no longer in a run's replica set (a coordinator with a higher rendezvous
 * score joined, or it accepted the run from a peer whose liveness view differed, or it admitted a
 * submission for a run it does not replicate) gives the run up — but only once every member of
 * the set, as this coordinator sees it, confirmed in an anti-entropy round that it holds
 * everything this replica holds of its own (its digest was equal, or the difference was sent and
 * acknowledged). So the last copies are never the ones dropped.
 *
 * "Of its own": what was written here or came from outside the set. What a member sent this copy
 * (a push, a round's answer, a fetch) that member holds already, so it needs no confirmation;
 * requiring it would never let go of a busy run, whose every round brings the copy something new
 * and so outdates the confirmations of the other members.
 * If the run's lease names this coordinator, the lease is handed to the set's first member first
 * (that change is confirmed like any other before the run is dropped).
 */
import type { Logger } from '@libp2p/interface'
import type { ReplicaSets } from './replica-set.js'
import type { RunEntry } from './run-entry.js'

export interface ReplicaHandoffInit {
  self: string
  sets: Pick<ReplicaSets, 'members' | 'forget'>
  runs: ReadonlyMap<string, RunEntry>
  /** Writes the run's lease to `owner` and stops driving it here. */
  handOverLease(entry: RunEntry, owner: string): void
  /** Removes the run from memory and the datastore. */
  drop(entry: RunEntry): Promise<void>
  log: Logger
}

export class ReplicaHandoff {
  /** Runs handed off (dropped here after every member confirmed them). */
  dropped = 0
  private readonly init: ReplicaHandoffInit
  /** run → member → the local version it confirmed holding. */
  private readonly confirmed = new Map<string, Map<string, number>>()
  /**
   * run → `own`: the local version up to which the copy holds something of its own, and
   * `accounted`: the version the last merge from a member left it at. A version beyond `accounted`
   * was not a member's (a local write, a merge from elsewhere): then everything counts as own.
   * Absent: everything counts as own.
   */
  private readonly origin = new Map<string, { own: number; accounted: number }>()
  private sweeping: Promise<void> = Promise.resolve()

  constructor(init: ReplicaHandoffInit) {
    this.init = init
  }

  /** An anti-entropy round with `peer` ended: it holds everything of these runs (at these versions). */
  onRound(peer: string, confirmed: ReadonlyMap<string, number>): void {
    const touched: string[] = []
    for (const [run, version] of confirmed) {
      if (this.init.sets.members(run).includes(this.init.self)) {
        this.forgetRun(run)
        continue
      }
      let byPeer = this.confirmed.get(run)
      if (byPeer === undefined) {
        byPeer = new Map()
        this.confirmed.set(run, byPeer)
      }
      byPeer.set(peer, version)
      touched.push(run)
    }
    if (touched.length > 0) void this.sweep(touched)
  }

  /**
   * `peer` was lost (or came back, perhaps restarted from an older disk): what it confirmed no
   * longer counts, it confirms again in its next round.
   */
  forgetPeer(peer: string): void {
    for (const [run, byPeer] of this.confirmed) {
      byPeer.delete(peer)
      if (byPeer.size === 0) this.confirmed.delete(run)
    }
  }

  /**
   * A merge from `from` took the run's copy from version `before` to `after`. Tracked only while
   * this coordinator is outside the run's set, and only for a member's merge: any other change
   * shows as a version past `accounted`.
   */
  merged(run: string, from: string | undefined, before: number, after: number): void {
    const members = this.init.sets.members(run)
    if (members.includes(this.init.self) || from === undefined || !members.includes(from)) {
      if (after > before) this.origin.delete(run)
      return
    }
    // A fresh copy (version 0) starts a new account: nothing of an earlier copy applies to it.
    const origin = (before === 0 ? undefined : this.origin.get(run)) ?? { own: before, accounted: before }
    if (before > origin.accounted) origin.own = before
    origin.accounted = after
    this.origin.set(run, origin)
  }

  /** The local version up to which the run's copy holds something no member sent it. */
  private ownVersion(run: string, version: number): number {
    const origin = this.origin.get(run)
    return origin === undefined || version > origin.accounted ? version : origin.own
  }

  /** Gives up each of `runs` that every member of its set confirmed. */
  sweep(runs: Iterable<string>): Promise<void> {
    const ids = [...runs]
    this.sweeping = this.sweeping
      .then(async () => {
        for (const run of ids) await this.settle(run)
      })
      .catch((err: Error) => this.init.log.error('handing runs off failed: %s', err.message))
    return this.sweeping
  }

  /** Waits for drops under way. */
  async idle(): Promise<void> {
    await this.sweeping
  }

  private async settle(run: string): Promise<void> {
    const entry = this.init.runs.get(run)
    if (entry === undefined) {
      this.forgetRun(run)
      return
    }
    const members = this.init.sets.members(run)
    if (members.includes(this.init.self)) {
      this.forgetRun(run)
      return
    }
    const versions = this.confirmed.get(run)
    const own = this.ownVersion(run, entry.state.version)
    // Nothing of its own (a copy fetched from a member): nothing to confirm.
    if (members.length === 0 || (own > 0 && members.some((peer) => (versions?.get(peer) ?? -1) < own))) return
    const owner = members[0] as string
    if (entry.state.lease?.owner === this.init.self) {
      this.init.log('run %s left this coordinator: handing its lease to %s', run, owner)
      this.init.handOverLease(entry, owner)
      return
    }
    this.forgetRun(run)
    this.init.sets.forget(run)
    this.dropped++
    await this.init.drop(entry)
    this.init.log('run %s handed off to %s', run, members.join(', '))
  }

  private forgetRun(run: string): void {
    this.confirmed.delete(run)
    this.origin.delete(run)
  }
}
