/**
 * Which coordinators hold a run: its replica set, the `k` live coordinators that the trust policy
 * admits as such with the highest rendezvous (highest-random-weight) score for the run id. Every
 * coordinator computes it from its own liveness view, so views agree once liveness does; a
 * coordinator that joins or is lost moves only the runs whose top k it enters or leaves (about
 * k/c of them). See ../../../protocols/state/README.md, "Where runs live".
 */
import { createHash, randomUUID } from 'node:crypto'

/** The run's weight at `peer`: a coordinator with a higher one comes first in the run's order. */
export function rendezvousScore(run: string, peer: string): string {
  return createHash('sha256').update(`${run}\n${peer}`).digest('hex')
}

/** `peers` in the run's rendezvous order, highest score first (ties cannot happen: distinct peers). */
export function rendezvousOrder(run: string, peers: Iterable<string>): string[] {
  return [...new Set(peers)]
    .map((peer) => ({ peer, score: rendezvousScore(run, peer) }))
    .sort((a, b) => (a.score < b.score ? 1 : a.score > b.score ? -1 : 0))
    .map(({ peer }) => peer)
}

/**
 * Sets kept computed at most: run ids come from callers too (status of any id), so the cache is
 * bounded; a set costs one sha256 per live coordinator to compute again.
 */
const MAX_CACHED_SETS = 10_000

/**
 * Hashes one run id choice may cost at most (a try costs one per live coordinator): with c
 * coordinators and k replicas a try lands in this coordinator's set with probability k/c, so the
 * budget gives ~1 − e^(−budget·k/c²) — certain at c = 10, ~70 % at c = 100 — for at most a few ms of sha256.
 */
const RUN_ID_HASH_BUDGET = 4_096

export interface ReplicaSetsInit {
  self: string
  /** How many coordinators hold each run. */
  replicas: number
  /** Other live coordinators the trust policy admits as coordinators (never a stranger's claim). */
  liveCoordinators(): string[]
}

export class ReplicaSets {
  private readonly init: ReplicaSetsInit
  /** Sets computed for the current liveness view; cleared when the view changes. */
  private cache = new Map<string, string[]>()
  private view = ''

  constructor(init: ReplicaSetsInit) {
    this.init = init
  }

  get replicas(): number {
    return this.init.replicas
  }

  /** Every live trusted coordinator (this one included) in the run's rendezvous order. */
  order(run: string): string[] {
    return rendezvousOrder(run, [this.init.self, ...this.init.liveCoordinators()])
  }

  /** The run's replica set, in rendezvous order: its first member is the preferred owner. */
  members(run: string): string[] {
    const live = this.init.liveCoordinators()
    const view = live.sort().join(',')
    if (view !== this.view) {
      this.view = view
      this.cache = new Map()
    }
    let members = this.cache.get(run)
    if (members === undefined) {
      members = rendezvousOrder(run, [this.init.self, ...live]).slice(0, this.init.replicas)
      if (this.cache.size >= MAX_CACHED_SETS) {
        // The oldest entry first (a Map keeps insertion order).
        for (const oldest of this.cache.keys()) {
          this.cache.delete(oldest)
          break
        }
      }
      this.cache.set(run, members)
    }
    return members
  }

  /**
   * A fresh run id (a UUID) whose replica set includes this coordinator, for a run it names itself:
   * a submission it accepts is then held and driven here from the start, not pushed to the set's
   * members, confirmed and handed off. Random ids are tried within RUN_ID_HASH_BUDGET; past it the
   * last one is used (and handed off, as any run submitted outside its set is).
   */
  newRunId(): string {
    const live = this.init.liveCoordinators()
    const k = this.init.replicas
    let id = randomUUID()
    if (live.length < k) return id
    const tries = Math.max(1, Math.floor(RUN_ID_HASH_BUDGET / (live.length + 1)))
    for (let i = 0; i < tries; i++, id = randomUUID()) {
      const own = rendezvousScore(id, this.init.self)
      let above = 0
      for (const peer of live) if (rendezvousScore(id, peer) > own && ++above >= k) break
      if (above < k) return id
    }
    return id
  }

  /** Forgets a run's cached set (it left this coordinator). */
  forget(run: string): void {
    this.cache.delete(run)
  }

  /** Is this coordinator one of the run's replicas? */
  holds(run: string): boolean {
    return this.members(run).includes(this.init.self)
  }

  /** The run's members other than this coordinator: where its deltas go. */
  peers(run: string): string[] {
    return this.members(run).filter((peer) => peer !== this.init.self)
  }
}
