/**
 * Diagnostic preload for the memory bench (BENCHMARKS.md, "Fifth session"): where a process's
 * memory is, over time. Load it into every process of a run with
 * `NODE_OPTIONS=--import=./dist/scripts/bench/memory-probe.js BENCH_MEMORY=1 npm run bench -- vs-bullmq`
 * (the node processes inherit the environment). Each process appends JSON lines to
 * `$PROBE_DIR/<pid>.jsonl` (`<pid>-thread<id>.jsonl` for a worker thread; default `/tmp/horus-memory-probe`):
 *
 * - every PROBE_MS (default 2,000): RSS, anonymous memory (smaps_rollup), V8 heap total/used,
 *   `external`, array buffers, each heap space's committed/used size, the event loop's utilisation
 *   since the previous sample, full collections so far and seconds since the last one;
 * - the allocation rate (bytes per ms, what V8's young-generation sizing reads): new space and
 *   old generation in use, sampled every PROBE_ALLOC_MS (default 500; the sampling allocates ~10 bytes per ms itself), summed over the sampled
 *   intervals in which neither dropped (no collection); per sample the rate over its interval and
 *   what was allocated since the last collection (V8's own estimate starts from that);
 * - at each full collection: new space's size after it, and the allocation since the collection
 *   before it as last sampled (up to PROBE_ALLOC_MS before it);
 * - with `DEBUG=horus:idle-heap`, the idle release's log lines;
 * - on SIGUSR2: the same before and after the idle release's full collection (`collectAndCompact`),
 *   resident memory by mapping (`/proc/self/smaps`: V8's 256 KiB pages, glibc's `[heap]` — the
 *   main thread's malloc arena — and its other threads' arena heaps with their count, other
 *   anonymous ranges by size, files), and a heap snapshot when `PROBE_SNAP` is part of the
 *   process's command line (writing one leaves tens of MiB of malloc'd memory behind: take it in a
 *   run that is not measured). `malloc-info.js <pid>` shows what of each arena is in use.
 *
 * The memory bench prints when it takes each reading (stderr, `memory: … at <ms since epoch>`).
 * A diagnostic, not part of any measurement: it only reads, except on the signal.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs'
import { constants, PerformanceObserver, performance } from 'node:perf_hooks'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import { isMainThread, threadId } from 'node:worker_threads'
import { collectAndCompact } from '../../src/node/idle-heap.js'

const dir = process.env.PROBE_DIR ?? '/tmp/horus-memory-probe'
mkdirSync(dir, { recursive: true })
// Worker threads load the preload too (their heaps are separate): one file per thread.
const file = `${dir}/${process.pid}${isMainThread ? '' : `-thread${threadId}`}.jsonl`
const command = process.argv.slice(1).join(' ')
const write = (line: object): void => appendFileSync(file, `${JSON.stringify(line)}\n`)
write({ command, execArgv: process.execArgv })

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10
let majors = 0
let lastMajor = 0

/** New space and old generation (old, code, map, large-object spaces) in use, bytes. */
function inUse(): { young: number; old: number; youngSize: number } {
  let young = 0
  let old = 0
  let youngSize = 0
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space') {
      young = space.space_used_size
      youngSize = space.space_size
    } else if (space.space_name !== 'new_large_object_space' && space.space_name !== 'read_only_space') {
      old += space.space_used_size
    }
  }
  return { young, old, youngSize }
}

/**
 * Allocation between fine samples: an interval in which neither new space nor the old generation
 * dropped had no collection, and its growth is what was allocated (promotions excepted, which need
 * a collection). Intervals with a drop are left out; since-collection counts restart there.
 */
const alloc = {
  last: { ...inUse(), at: performance.now() },
  bytes: 0,
  ms: 0,
  sinceGcBytes: 0,
  sinceGcMs: 0,
  /** The previous collection's window: V8 reaches back over it when the current one is under 5 s. */
  beforeGc: { bytes: 0, ms: 0 },
}
setInterval(
  () => {
    const now = { ...inUse(), at: performance.now() }
    const ms = now.at - alloc.last.at
    if (now.young >= alloc.last.young && now.old >= alloc.last.old) {
      const bytes = now.young - alloc.last.young + (now.old - alloc.last.old)
      alloc.bytes += bytes
      alloc.ms += ms
      alloc.sinceGcBytes += bytes
      alloc.sinceGcMs += ms
    } else {
      alloc.beforeGc = { bytes: alloc.sinceGcBytes, ms: alloc.sinceGcMs }
      alloc.sinceGcBytes = 0
      alloc.sinceGcMs = 0
    }
    alloc.last = now
  },
  Number(process.env.PROBE_ALLOC_MS ?? '500'),
).unref()

const rate = (bytes: number, ms: number): number | null =>
  ms === 0 ? null : Math.round((bytes / ms) * 10) / 10
const sinceGc = () => ({
  sinceGcS: Math.round(alloc.sinceGcMs / 100) / 10,
  sinceGcBytesPerMs: rate(alloc.sinceGcBytes, alloc.sinceGcMs),
  beforeGcS: Math.round(alloc.beforeGc.ms / 100) / 10,
  beforeGcBytesPerMs: rate(alloc.beforeGc.bytes, alloc.beforeGc.ms),
})

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR)
      continue
    majors++
    lastMajor = Date.now()
    // What was allocated up to the collection: the current window if the fine sampler has not run
    // since, else the one it closed at the drop.
    const ticked = alloc.last.at > entry.startTime
    const window = ticked ? alloc.beforeGc : { bytes: alloc.sinceGcBytes, ms: alloc.sinceGcMs }
    write({
      tag: 'major',
      at: Date.now(),
      ms: Math.round(entry.duration * 10) / 10,
      newSpaceAfter: mib(inUse().youngSize),
      windowS: Math.round(window.ms / 100) / 10,
      windowBytesPerMs: rate(window.bytes, window.ms),
    })
  }
}).observe({ entryTypes: ['gc'] })

function rollup(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line)
    if (match !== null) out[match[1] as string] = mib(Number(match[2]) * 1024)
  }
  return out
}

let loop = performance.eventLoopUtilization()
function sample(tag: string): void {
  const now = performance.eventLoopUtilization()
  const elu = performance.eventLoopUtilization(now, loop).utilization
  loop = now
  const usage = process.memoryUsage()
  const spaces: Record<string, [number, number]> = {}
  for (const space of getHeapSpaceStatistics()) {
    spaces[space.space_name.replace('_space', '')] = [mib(space.space_size), mib(space.space_used_size)]
  }
  const allocated = rate(alloc.bytes, alloc.ms)
  alloc.bytes = 0
  alloc.ms = 0
  write({
    tag,
    at: Date.now(),
    allocBytesPerMs: allocated,
    ...sinceGc(),
    rss: mib(usage.rss),
    anonymous: rollup().Anonymous,
    heapTotal: mib(usage.heapTotal),
    heapUsed: mib(usage.heapUsed),
    external: mib(usage.external),
    arrayBuffers: mib(usage.arrayBuffers),
    spaces,
    loopUtilization: Math.round(elu * 1000) / 1000,
    majors,
    sinceMajorS: lastMajor === 0 ? null : Math.round((Date.now() - lastMajor) / 1000),
  })
}
setInterval(() => sample('sample'), Number(process.env.PROBE_MS ?? '2000')).unref()

// With `DEBUG=horus:idle-heap` the idle release's lines (its windows and collections) go to the
// file too: a node's stderr stays in its parent's memory.
const stderrWrite = process.stderr.write.bind(process.stderr)
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
  if (text.includes('horus:idle-heap')) write({ tag: 'log', at: Date.now(), line: text.trim() })
  return stderrWrite(chunk, ...rest)
}) as typeof process.stderr.write

/** glibc reserves each heap of a thread's malloc arena as 64 MiB, aligned to its size (HEAP_MAX_SIZE). */
const ARENA_HEAP = 64 * 1048576

/**
 * Resident MiB by mapping: V8's 256 KiB pages, glibc's main arena (`[heap]`, the main thread's
 * malloc) and its other threads' arena heaps (a 64 MiB-aligned read-write range followed by the
 * rest of its 64 MiB reservation, inaccessible), other anonymous ranges by size, files by name.
 */
function byMapping(): Record<string, number> {
  const groups: Record<string, number> = {}
  const ranges: Array<{ start: number; end: number; perms: string; name: string; rss: number }> = []
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (header !== null) {
      ranges.push({
        start: Number.parseInt(header[1] as string, 16),
        end: Number.parseInt(header[2] as string, 16),
        perms: header[3] as string,
        name: header[4] ?? '',
        rss: 0,
      })
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    const current = ranges[ranges.length - 1]
    if (rss !== null && current !== undefined) current.rss += Number(rss[1]) / 1024
  }
  let arenas = 0
  for (const [i, range] of ranges.entries()) {
    const next = ranges[i + 1]
    const size = (range.end - range.start) / 1048576
    const reserved = next?.name === '' && next.start === range.end && next.perms.startsWith('---')
    const arenaHeap =
      range.name === '' &&
      range.start % ARENA_HEAP === 0 &&
      range.perms.startsWith('rw') &&
      range.end - range.start + (reserved ? (next?.end ?? 0) - (next?.start ?? 0) : 0) === ARENA_HEAP
    let group: string
    if (arenaHeap) {
      arenas++
      group = 'glibc thread arena heaps'
    } else if (range.name === '') {
      group =
        size === 0.25 ? 'anonymous 256 KiB (V8 pages)' : size < 1 ? 'anonymous < 1 MiB' : 'anonymous ≥ 1 MiB'
    } else group = range.name.startsWith('/') ? (range.name.split('/').pop() ?? range.name) : range.name
    groups[group] = (groups[group] ?? 0) + range.rss
  }
  return {
    ...Object.fromEntries(
      Object.entries(groups)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([name, size]) => [name, Math.round(size)]),
    ),
    'glibc thread arena heaps (count)': arenas,
  }
}

process.on('SIGUSR2', () => {
  sample('before forced collection')
  write({ tag: 'mappings before', at: Date.now(), mappings: byMapping() })
  collectAndCompact()
  sample('after forced collection')
  write({ tag: 'mappings after', at: Date.now(), mappings: byMapping() })
  const snap = process.env.PROBE_SNAP
  if (snap !== undefined && command.includes(snap)) {
    write({ tag: 'snapshot', file: writeHeapSnapshot(`${dir}/${process.pid}-${Date.now()}.heapsnapshot`) })
  }
})
