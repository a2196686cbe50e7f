/**
 * Gives a node's heap back to the system once the node goes idle after work. V8 sizes the heap
 * to what was live at the last full collection under load (times the growth factor,
 * src/node/heap-growth.ts) and, once the load stops, nothing collects again: its memory reducer
 * only starts after a full collection that shrank the heap, and an idle node allocates too little
 * to trigger one. So a supervisor stayed at the heap its job load needed — the finished records
 * and replay entries of the last retention window, and the garbage of the last cycle — for as
 * long as it stayed idle, and what it read then depended on when V8 had last collected
 * (BENCHMARKS.md, memory, fifth session: 191 MiB idle before this collection, 140 after it, with
 * 31 MiB of its old space in use). What V8 gives back is still its choice: in the same run's
 * second idle window the supervisor kept its 32 MiB young generation through the same collection.
 *
 * Every IDLE_HEAP_CHECK_MS this looks at the event loop's utilisation over the last interval:
 * after an interval at or above BUSY_UTILIZATION, once IDLE_INTERVALS intervals in a row were
 * below IDLE_UTILIZATION it runs a full collection that also shrinks the heap; then nothing until
 * the node is busy again. At most one (two V8 collections, ~0.1–0.4 s on a node's ~40–140 MiB
 * heap, on 2 busy cores) per busy-to-idle change, and only when there is hardly any work to
 * delay. Why wait 15 s: V8 gives back its 32 MiB young generation only when the allocation rate
 * it last measured is low, and in a test (steady allocation, then idle, then two collections) it
 * did so after 15 s of idle but not after 5, 7 or 10.
 *
 * Only `horus node start` uses it, like the heap growth setting: the collection is process-wide.
 */
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** How often the event loop's utilisation is looked at. @default 5_000 */
export const IDLE_HEAP_CHECK_MS = 5_000

/**
 * An interval at least this busy (share of the time the loop was running) arms the release. Nodes
 * running the memory bench's job load were at 0.35–0.85.
 */
export const BUSY_UTILIZATION = 0.25

/**
 * An interval below this after a busy one counts as idle: the heap is collected. An idle node's
 * own traffic (heartbeats, gossip, pruning) kept supervisor and runner at 0.01–0.06 over 1 s on a
 * loaded host, single seconds up to 0.3; over the 5 s interval that averages out below this.
 */
export const IDLE_UTILIZATION = 0.1

/** Idle intervals in a row before the collection (15 s at the default check). */
export const IDLE_INTERVALS = 3

export interface IdleHeapReleaseInit {
  /** @default IDLE_HEAP_CHECK_MS */
  checkMs?: number
  /** Runs a full collection. @default V8's `gc` (exposed for this process on first use) */
  collect?: () => void
  /** The event loop's utilisation (0–1) since the previous call. @default from `performance.eventLoopUtilization` */
  utilization?: () => number
}

export class IdleHeapRelease {
  private readonly checkMs: number
  private readonly collect: () => void
  private readonly utilization: () => number
  private timer: NodeJS.Timeout | undefined
  private armed = false
  private idleIntervals = 0
  private count = 0

  constructor(init: IdleHeapReleaseInit = {}) {
    this.checkMs = init.checkMs ?? IDLE_HEAP_CHECK_MS
    this.collect = init.collect ?? exposedGc
    this.utilization = init.utilization ?? loopUtilization()
  }

  /** Full collections run so far. */
  get releases(): number {
    return this.count
  }

  start(): void {
    if (this.timer !== undefined) return
    this.utilization()
    this.timer = setInterval(() => this.check(), this.checkMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.armed = false
    this.idleIntervals = 0
  }

  /** One look at the last interval (what the timer runs). */
  check(): void {
    const used = this.utilization()
    this.idleIntervals = used < IDLE_UTILIZATION ? this.idleIntervals + 1 : 0
    if (used >= BUSY_UTILIZATION) this.armed = true
    else if (this.armed && this.idleIntervals >= IDLE_INTERVALS) {
      this.armed = false
      this.count++
      this.collect()
    }
  }
}

/** The event loop's utilisation between successive calls. */
function loopUtilization(): () => number {
  let last = performance.eventLoopUtilization()
  return () => {
    const now = performance.eventLoopUtilization()
    const { utilization } = performance.eventLoopUtilization(now, last)
    last = now
    return utilization
  }
}

let gc: (() => void) | undefined

/**
 * Two of V8's full collections (`--expose-gc` set at run time installs `gc` in contexts made after
 * it). One frees the garbage but leaves the pages it was on committed, each still holding a few
 * live objects; the second moves those out of the nearly empty pages and releases them. Measured
 * on a 140 MiB heap with a tenth of it live: one collection, old space 91 → 88 MiB; two, 99 → 46.
 */
export function exposedGc(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
  gc()
}
