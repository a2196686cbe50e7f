/**
 * Gives a node's heap back to the system once the node goes idle after work. V8 sizes the heap
 * to what was live at the last full collection under load (times the growth factor,
 * src/node/heap-growth.ts) and, once the load stops, nothing collects again: its memory reducer
 * only starts after a full collection that shrank the heap, and an idle node allocates too little
 * to trigger one. So a supervisor stayed at the heap its job load needed for as long as it stayed
 * idle, and what it read then depended on when V8 had last collected (BENCHMARKS.md, memory,
 * fifth session: 191 MiB idle before a collection, 140 after it).
 *
 * A full collection alone does not settle it: V8 gives its young generation back (32 MiB at
 * Node 20's default, down to 1–2) only when the allocation rate it measured up to that collection
 * is under 1,000 bytes per ms (`Heap::ShouldResizeNewSpace`), and it measures from the end of its
 * last collection, reaching back over earlier ones until it covers 5 s. An idle node allocates
 * ~150 bytes per ms, but for a while after a load it also expires what the load left — the
 * replay caches drop each job's nonce when the job expires (a sweep every 5 s allocating a few
 * MB), the supervisor prunes finished records — and V8's window reached back into that, or into
 * the young generation left full by the load, as chance had it: the same collection 15 s into
 * idle left a node's young generation at 32 MiB in one run and at 1–2 in the next (BENCHMARKS.md,
 * memory, sixth session: five of eight such collections kept it). Node 20 offers no collection
 * that shrinks regardless of that rate: `gc()` with options runs a young-generation collection
 * there, and `v8.queryObjects`, which does reduce memory, first moves every small typed array off
 * the heap (4.6 s and +150 MiB on a test heap).
 *
 * So the collection waits for a quiet window it starts itself. Every IDLE_HEAP_CHECK_MS this
 * looks at the event loop's utilisation over the last interval: after an interval at or above
 * BUSY_UTILIZATION, once IDLE_INTERVALS intervals in a row were below IDLE_UTILIZATION, it runs a
 * young-generation collection (V8's measurement then starts there) and measures what is allocated
 * (and promoted, which V8 counts too) for WINDOW_MS. Under
 * QUIET_BYTES_PER_MS V8 measures a low rate too, and the full collection that follows gives the
 * young generation back. A noisy window starts the next one; after MAX_NOISY_WINDOWS of them in a
 * row (a load's expiries can run on for its jobs' validity, 10 minutes by default) it collects
 * anyway, as it did before windows: the old generation is given back, the young perhaps not.
 * After a collection it keeps looking while the node stays idle: at the next quiet window, if
 * the heap committed has grown by REGROWTH_BYTES since (the expiries going on after it), it
 * collects again, else it is done until the node is busy again; so it is after MAX_NOISY_WINDOWS
 * noisy windows in a row. Each collection also compacts the old generation (collectAndCompact):
 * what a load left fragmented stays committed otherwise. At most MAX_RELEASES collections (~0.5 s
 * each on a node's ~40 MiB live heap on a loaded host) per busy-to-idle change, never two within
 * MIN_RELEASE_SPACING_MS (so brief loads cannot drive it), and only when there is hardly any work
 * to delay; a window costs a young-generation collection (~1–5 ms when idle).
 *
 * Only `horus node start` uses it, like the heap growth setting: the collection is process-wide.
 */
import { performance } from 'node:perf_hooks'
import { GCProfiler, getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createLogger, type Logger } from '../core/logger.js'

/** How often the event loop's utilisation is looked at. @default 5_000 */
export const IDLE_HEAP_CHECK_MS = 5_000

/**
 * An interval at least this busy (share of the time the loop was running) arms the release. Nodes
 * running the memory bench's job load were at 0.35–0.85.
 */
export const BUSY_UTILIZATION = 0.25

/**
 * An interval below this after a busy one counts as idle. An idle node's own traffic (heartbeats,
 * gossip, pruning) kept supervisor and runner at 0.01–0.06 over 1 s on a loaded host, single
 * seconds up to 0.3; over the 5 s interval that averages out below this.
 */
export const IDLE_UTILIZATION = 0.1

/** Idle intervals in a row before the first window (15 s at the default check). */
export const IDLE_INTERVALS = 3

/**
 * How long a window lasts at least: V8 measures the allocation rate over at least its last 5 s
 * (`kThroughputTimeFrameMs`), so a shorter window would let it reach back before the window's
 * young-generation collection.
 */
export const WINDOW_MS = 5_000

/**
 * What the look after a window's start waits beyond WINDOW_MS: a timer fires up to the time its
 * event-loop turn had already run early (libuv's clock is read once a turn).
 */
const WINDOW_SLACK_MS = 100

/**
 * A window allocating less than this is quiet: half of V8's 1,000 bytes per ms, for what its
 * window counts beyond this one's (the few µs at each end). Idle supervisor and runner: ~150.
 */
export const QUIET_BYTES_PER_MS = 500

/** Heap committed again since a collection that is worth another one at the next quiet window. */
export const REGROWTH_BYTES = 4 * 1024 * 1024

/** Collections per busy-to-idle change at most. */
export const MAX_RELEASES = 4

/**
 * The least time between the starts of two collections, whatever came between (60 s). Each idle
 * period after a busy interval has MAX_RELEASES of its own, so without it brief loads every ~40 s
 * (one busy interval, then the idle ones a window needs) could make a node run a compacting full
 * collection, ~0.5 s of blocked loop, at every window. At 60 s the collections take at most ~1 %
 * of the loop's time however the loads come, less than the ≥ 1.25 s of work (a busy interval) a
 * caller must cause for each. The first collection after a load, 15–20 s into idle, waits only
 * when the one before began under 60 s ago: when the load and the idle before it lasted under
 * ~40 s together. Within an idle period the collections for regrowth come 60 s apart rather than
 * 5 s (the expiries they follow run on for minutes). One due sooner waits, windows going on, for
 * the first quiet window after the spacing.
 */
export const MIN_RELEASE_SPACING_MS = 60_000

/** Noisy windows in a row after which the first collection runs without a quiet one (60 s). */
export const MAX_NOISY_WINDOWS = 12

/** Allocation since a young-generation collection, as V8's sizing of the young generation reads it. */
export interface AllocationWindow {
  /** When it started (`performance.now()`'s clock): just after its young-generation collection. */
  readonly opened: number
  /**
   * Ends the window: how long it was open and what was allocated per ms in it, undefined when V8
   * ran a full collection meanwhile (its measurement then starts there, not at this window's).
   */
  close(): { ms: number; bytesPerMs: number | undefined }
}

/** What the release needs of the heap (V8's, by default; a script in tests). */
export interface HeapControl {
  /** Runs a young-generation collection and starts measuring allocation from its end. */
  openWindow(): AllocationWindow
  /** A full collection: gives the heap back, the young generation too when the last window was quiet. */
  collect(): void
  /** Bytes of heap committed. */
  committed(): number
}

export interface IdleHeapReleaseInit {
  /** @default IDLE_HEAP_CHECK_MS */
  checkMs?: number
  /** @default V8's heap, collected through `gc` (exposed for this process on first use) */
  heap?: HeapControl
  /** The event loop's utilisation (0–1) since the previous call. @default from `performance.eventLoopUtilization` */
  utilization?: () => number
  /** @default the process-wide logger's `horus:idle-heap` (`DEBUG=horus:idle-heap`) */
  log?: Logger
}

export class IdleHeapRelease {
  private readonly checkMs: number
  private readonly heap: HeapControl
  private readonly utilization: () => number
  private readonly log: Logger
  private timer: NodeJS.Timeout | undefined
  private started = false
  private armed = false
  private idleIntervals = 0
  private count = 0
  private window: AllocationWindow | undefined
  private noisyWindows = 0
  /** Of this idle period: collections run, the heap committed after the last, and whether its window was quiet. */
  private released = 0
  private committedAfter = 0
  private lastQuiet = false
  /** When the last collection started (`performance.now()`'s clock). */
  private lastCollectedAt = Number.NEGATIVE_INFINITY

  constructor(init: IdleHeapReleaseInit = {}) {
    this.checkMs = init.checkMs ?? IDLE_HEAP_CHECK_MS
    this.heap = init.heap ?? v8Heap
    this.utilization = init.utilization ?? loopUtilization()
    this.log = init.log ?? createLogger().forComponent('horus:idle-heap')
  }

  /** Full collections run so far. */
  get releases(): number {
    return this.count
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.utilization()
    this.schedule()
  }

  stop(): void {
    this.started = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.armed = false
    this.idleIntervals = 0
    this.closeWindow()
  }

  /**
   * One look at the last interval (what the timer runs). `now` (`performance.now()`'s clock) dates
   * the window: it is judged at the first look WINDOW_MS or more after it opened.
   */
  check(now: number = performance.now()): void {
    const used = this.utilization()
    if (used >= BUSY_UTILIZATION) {
      this.armed = true
      this.idleIntervals = 0
      this.released = 0
      this.lastQuiet = false
      this.noisyWindows = 0
      this.closeWindow()
      return
    }
    if (used >= IDLE_UTILIZATION) {
      this.idleIntervals = 0
      this.closeWindow()
      return
    }
    this.idleIntervals++
    if (!this.armed || this.idleIntervals < IDLE_INTERVALS) return
    const open = this.window
    if (open !== undefined && now - open.opened < WINDOW_MS) return
    this.window = undefined
    const measured = open?.close()
    const quiet = measured?.bytesPerMs !== undefined && measured.bytesPerMs < QUIET_BYTES_PER_MS
    if (measured !== undefined && !quiet) this.noisyWindows++
    if (measured !== undefined) {
      this.log(
        'window of %d ms: %s',
        Math.round(measured.ms),
        measured.bytesPerMs === undefined
          ? 'V8 ran a full collection in it'
          : `${Math.round(measured.bytesPerMs)} bytes per ms${quiet ? ', quiet' : ''}`,
      )
    }
    if (this.noisyWindows >= MAX_NOISY_WINDOWS && this.released > 0) {
      // Windows stay noisy after a collection: not worth a young-generation collection every 5 s.
      this.armed = false
      return
    }
    if (quiet || this.noisyWindows >= MAX_NOISY_WINDOWS) {
      // Settled: the last collection gave the young generation back and little came back since.
      const committed = this.heap.committed()
      if (this.lastQuiet && this.released > 0 && committed - this.committedAfter < REGROWTH_BYTES) {
        this.log('settled: heap %d MiB', mib(committed))
        this.armed = false
        return
      }
      const since = now - this.lastCollectedAt
      if (since < MIN_RELEASE_SPACING_MS) {
        this.log('collection waits: the last began %d s ago', Math.round(since / 1000))
      } else {
        this.collect(now, quiet, committed)
        if (this.released >= MAX_RELEASES) {
          this.armed = false
          return
        }
      }
    }
    this.window = this.heap.openWindow()
    // The next interval starts now: the collections just run (0.1–0.6 s on a loaded host) would
    // otherwise count as the loop's work and end the idle run they belong to.
    this.utilization()
  }

  private collect(now: number, quiet: boolean, committed: number): void {
    this.lastCollectedAt = now
    this.heap.collect()
    this.count++
    this.released++
    this.noisyWindows = 0
    this.lastQuiet = quiet
    this.committedAfter = this.heap.committed()
    this.log('collected: heap %d → %d MiB', mib(committed), mib(this.committedAfter))
  }

  private schedule(): void {
    if (!this.started) return
    // While a window is open the next look comes once it is long enough.
    const delay =
      this.window === undefined ? this.checkMs : Math.max(this.checkMs, WINDOW_MS + WINDOW_SLACK_MS)
    this.timer = setTimeout(() => {
      // A failing look (V8's profiler or collector refusing) must not take the node down with it:
      // logged, its window dropped, and the next look scheduled as usual.
      try {
        this.check()
      } catch (err) {
        this.log.error('idle heap check failed: %e', err)
        this.closeWindow()
      }
      this.schedule()
    }, delay)
    this.timer.unref()
  }

  private closeWindow(): void {
    this.window?.close()
    this.window = undefined
  }
}

const mib = (bytes: number): number => Math.round(bytes / 1048576)

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

type Gc = (options?: { type: 'minor' | 'major' }) => void
let gc: Gc | undefined

/** V8's `gc` (`--expose-gc` set at run time installs it in contexts made after it). */
function exposed(): Gc {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as Gc
  }
  return gc
}

/**
 * A full collection that also compacts the whole old generation. A plain one evacuates only pages
 * that are mostly free, so a heap a load left fragmented stays committed: on a test heap with
 * 43 MiB live in 78 MiB of old space, two plain collections left 78 MiB (RSS 160 MiB); one with
 * `--compact-on-every-full-gc` (set around it, at run time) 44 MiB (RSS 130 MiB), in ~0.5 s on a
 * loaded host against ~0.3–0.4 s for the two plain ones. (Before it, the release ran two plain
 * collections: the second emptied pages the first had left nearly empty, 99 → 46 MiB on a
 * 140 MiB heap with a tenth of it live; what the load had left half full stayed, 14 MiB of the
 * runner's old space in the fifth session's run and 19 of the producer's in this session's.)
 */
export function collectAndCompact(): void {
  const collect = exposed()
  setFlagsFromString('--compact-on-every-full-gc')
  try {
    collect()
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc')
  }
}

/**
 * V8's heap. A window's allocation is what the heap in use grew by between collections — from
 * just after its own young-generation collection, across any V8 runs meanwhile (`GCProfiler`
 * records the heap before and after each), to its end — plus what each of those collections
 * promoted to the old generation: V8 counts the old generation's growth from the start of its
 * last collection, so promotions are allocation in the window after. After a load those are MBs
 * (what the load's last turns still held), and the next window, with little left to promote, is
 * the quiet one. An idle node whose young generation is back at 1 MiB runs one of its own every
 * few seconds, so a window must count across them. A full collection of V8's own in the window
 * leaves it unjudged: V8 measured from there.
 */
export const v8Heap: HeapControl = {
  openWindow() {
    const before = oldGenerationUsed(spacesNow())
    exposed()({ type: 'minor' })
    const promoted = Math.max(0, oldGenerationUsed(spacesNow()) - before)
    const profiler = new GCProfiler()
    profiler.start()
    const opened = performance.now()
    const used = getHeapStatistics().used_heap_size
    return {
      opened,
      close() {
        const ms = performance.now() - opened
        const end = getHeapStatistics().used_heap_size
        let allocated = promoted
        let from = used
        for (const collection of profiler.stop()?.statistics ?? []) {
          if (collection.gcType === 'MarkSweepCompact') return { ms, bytesPerMs: undefined }
          const { beforeGC, afterGC } = collection
          allocated += Math.max(0, beforeGC.heapStatistics.usedHeapSize - from)
          allocated += Math.max(
            0,
            oldGenerationUsed(afterGC.heapSpaceStatistics) - oldGenerationUsed(beforeGC.heapSpaceStatistics),
          )
          from = afterGC.heapStatistics.usedHeapSize
        }
        allocated += Math.max(0, end - from)
        return { ms, bytesPerMs: ms > 0 ? allocated / ms : undefined }
      },
    }
  },
  collect: collectAndCompact,
  committed: () => getHeapStatistics().total_heap_size,
}

interface SpaceUse {
  spaceName: string
  spaceUsedSize: number
}

function spacesNow(): SpaceUse[] {
  return getHeapSpaceStatistics().map((s) => ({ spaceName: s.space_name, spaceUsedSize: s.space_used_size }))
}

/** Bytes in use outside the young generation (V8's old generation: old, code, large objects). */
function oldGenerationUsed(spaces: readonly SpaceUse[]): number {
  let used = 0
  for (const space of spaces) {
    if (space.spaceName !== 'new_space' && space.spaceName !== 'new_large_object_space') {
      used += space.spaceUsedSize
    }
  }
  return used
}
