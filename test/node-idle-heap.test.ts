/**
 * A node gives its heap back when it goes idle after work (src/node/idle-heap.ts): when it opens
 * allocation windows and collects, from a scripted utilisation and heap, and for real — a busy
 * event loop that grows V8's young generation, then an idle one, then the young generation given
 * back by the collection after a quiet window.
 */

import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Logger } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import {
  BUSY_UTILIZATION,
  collectAndCompact,
  type HeapControl,
  IDLE_INTERVALS,
  IDLE_UTILIZATION,
  IdleHeapRelease,
  MAX_NOISY_WINDOWS,
  MAX_RELEASES,
  MIN_RELEASE_SPACING_MS,
  QUIET_BYTES_PER_MS,
  REGROWTH_BYTES,
  v8Heap,
  WINDOW_MS,
} from '../src/node/idle-heap.js'
import { waitFor } from '../src/testing/index.js'

const releases: IdleHeapRelease[] = []
afterEach(() => {
  for (const release of releases.splice(0)) release.stop()
})

const QUIET = QUIET_BYTES_PER_MS / 5
const NOISY = QUIET_BYTES_PER_MS * 3
/** A window in which V8 collected by itself. */
const COLLECTED = undefined
const MiB = 1024 * 1024

/**
 * Drives a release look by look: each look's utilisation, and for each window closed the rate it
 * measured, in order. Records at which look windows opened and collections ran.
 */
class Script {
  look = 0
  now = 0
  committed = 100 * MiB
  /** Share of an interval a collection takes: the loop's utilisation reports it in the next one. */
  collectShare = 0
  private pending = 0
  readonly opened: number[] = []
  readonly closed: number[] = []
  readonly collected: number[] = []
  readonly release: IdleHeapRelease
  rates: (number | undefined)[]

  constructor(
    private readonly loops: number[],
    rates: (number | undefined)[],
  ) {
    this.rates = [...rates]
    const heap: HeapControl = {
      openWindow: () => {
        this.opened.push(this.look)
        return {
          opened: this.now,
          close: () => {
            this.closed.push(this.look)
            return { ms: WINDOW_MS, bytesPerMs: this.rates.shift() }
          },
        }
      },
      collect: () => {
        this.collected.push(this.look)
        this.committed = 100 * MiB
        this.pending += this.collectShare
      },
      committed: () => this.committed,
    }
    const utilization = (): number => {
      const used = (this.loops[this.look] ?? 0) + this.pending
      this.pending = 0
      return used
    }
    this.release = new IdleHeapRelease({ heap, utilization })
  }

  /** Runs the looks from the current one up to `until` (exclusive), WINDOW_MS apart. */
  run(until = this.loops.length, each?: (look: number) => void): this {
    for (; this.look < until; this.look++) {
      each?.(this.look)
      this.release.check(this.now)
      this.now += WINDOW_MS
    }
    return this
  }
}

const idle = (n: number): number[] => Array<number>(n).fill(0.01)

describe('IdleHeapRelease', () => {
  it('opens a window once IDLE_INTERVALS idle looks follow a busy one, never while busy or when never busy, and collects at the first quiet window', () => {
    expect(IDLE_INTERVALS).toBe(3)
    // idle × 3 (never busy); busy; idle, in between (restarts the count), idle × 3 → window at 8;
    // noisy at 9; quiet at 10 → collection; quiet at 11 with nothing regrown → done; idle at 12.
    const script = new Script(
      [0.01, 0.01, 0.01, 0.5, 0.05, 0.15, 0.05, 0.01, 0.05, 0.01, 0.01, 0.01, 0.01],
      [NOISY, QUIET, QUIET],
    ).run()
    expect(script.opened).toEqual([8, 9, 10])
    expect(script.closed).toEqual([9, 10, 11])
    expect(script.collected).toEqual([10])
    expect(script.release.releases).toBe(1)
    expect(0.15).toBeGreaterThanOrEqual(IDLE_UTILIZATION)
    expect(0.15).toBeLessThan(BUSY_UTILIZATION)
  })

  it('judges a window only once it is WINDOW_MS old, drops it when an interval is not idle, and starts over when busy', () => {
    // The first rate is the dropped window's: quiet, yet no collection follows it.
    const script = new Script([0.5, ...idle(3), 0.01, 0.15, ...idle(4), 0.9, ...idle(11)], [QUIET, QUIET])
    // Looks 0–3: a window opens at 3. Look 4 comes 1 ms later: too young to judge.
    script.run(4)
    script.now = script.now - WINDOW_MS + 1
    script.run(5)
    expect(script.opened).toEqual([3])
    expect(script.closed).toEqual([])
    // Look 5 is neither idle nor busy: the window closes unjudged and the idle count restarts: the
    // next window opens at 8, is quiet at 9 → collection.
    script.run(10)
    expect(script.closed).toEqual([5, 9])
    expect(script.opened).toEqual([3, 8, 9])
    expect(script.collected).toEqual([9])
    // Busy at 10 closes the window opened at 9 unjudged and re-arms: a window at 13, quiet from 14
    // on → collection at 21, the first quiet window MIN_RELEASE_SPACING_MS after the one at 9.
    script.rates = Array(9).fill(QUIET) // the first for the window the busy look closes
    script.run()
    expect(script.collected).toEqual([9, 21])
  })

  it('collects again while the heap grows back by REGROWTH_BYTES between quiet windows, MIN_RELEASE_SPACING_MS apart, at most MAX_RELEASES times per idle period', () => {
    expect(MAX_RELEASES).toBe(4)
    expect(MIN_RELEASE_SPACING_MS).toBe(12 * WINDOW_MS)
    const script = new Script([0.5, ...idle(3 + 12 * MAX_RELEASES + 2)], Array(60).fill(QUIET))
    // Each look after a collection finds the heap grown back by REGROWTH_BYTES.
    script.run(undefined, () => {
      script.committed += REGROWTH_BYTES
    })
    expect(script.collected).toEqual([4, 16, 28, 40])
    expect(script.release.releases).toBe(MAX_RELEASES)
    // Regrown by less at the next quiet window: settled, no collection.
    const settled = new Script([0.5, ...idle(6)], [QUIET, QUIET, QUIET])
    settled.run(undefined, () => {
      settled.committed += REGROWTH_BYTES - 1
    })
    expect(settled.collected).toEqual([4])
    expect(settled.opened).toEqual([3, 4])
  })

  it("does not count its own collection's time as the loop's work", () => {
    // A collection taking 0.12 of an interval would make the next one not idle: the window opened
    // after it would close unjudged. It is judged (quiet, the heap grown back) → collection.
    const script = new Script([0.5, ...idle(16)], Array(14).fill(QUIET))
    script.collectShare = 0.12
    expect(0.01 + script.collectShare).toBeGreaterThanOrEqual(IDLE_UTILIZATION)
    script.run(undefined, () => {
      script.committed += REGROWTH_BYTES
    })
    expect(script.collected).toEqual([4, 16])
  })

  it('counts a window V8 collected in as noisy; collects anyway after MAX_NOISY_WINDOWS noisy ones, again at the next quiet window, and stops after as many noisy ones more', () => {
    expect(MAX_NOISY_WINDOWS).toBe(12)
    const noisy = Array(MAX_NOISY_WINDOWS - 1).fill(NOISY)
    // 12 noisy (one of them collected in by V8) → collection without a quiet window at look 15;
    // 11 noisy, then a quiet window at 27 (the first one MIN_RELEASE_SPACING_MS after 15) →
    // collection although nothing grew back (the young generation was not given back at 15);
    // then 12 noisy → stop.
    const script = new Script(
      [0.5, ...idle(3 + 3 * MAX_NOISY_WINDOWS + 3)],
      [COLLECTED, ...noisy, ...noisy, QUIET, ...noisy, NOISY, NOISY, NOISY],
    ).run()
    expect(script.collected).toEqual([3 + MAX_NOISY_WINDOWS, 3 + 2 * MAX_NOISY_WINDOWS])
    const lastWindow = 3 + 3 * MAX_NOISY_WINDOWS
    expect(script.closed.at(-1)).toBe(lastWindow)
    expect(script.opened.at(-1)).toBe(lastWindow - 1)
  })

  it('runs no two collections within MIN_RELEASE_SPACING_MS however brief loads come (one every 40 s here)', () => {
    // Each 40 s: one busy look, then seven idle ones, every window quiet and the heap regrown at
    // every look — each idle period would take all its MAX_RELEASES at consecutive windows.
    const period = [0.5, ...idle(7)]
    const periods = 8
    const script = new Script(Array(periods).fill(period).flat(), Array(8 * periods).fill(QUIET))
    script.run(undefined, () => {
      script.committed += REGROWTH_BYTES
    })
    // The first quiet window of every other idle period: the one between is under 60 s on.
    expect(script.collected).toEqual([4, 20, 36, 52])
    const gaps = script.collected
      .slice(1)
      .map((look, i) => (look - (script.collected[i] as number)) * WINDOW_MS)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(MIN_RELEASE_SPACING_MS)
  })

  it('keeps looking after a look that threw, and says so in its log', async () => {
    let looks = 0
    const logged: string[] = []
    const log = Object.assign(() => undefined, {
      enabled: true,
      trace: () => undefined,
      error: (format: string) => void logged.push(format),
      newScope: () => log,
    }) as unknown as Logger
    const release = new IdleHeapRelease({
      checkMs: 10,
      log,
      utilization: () => {
        looks++
        if (looks === 2) throw new Error('no utilisation today')
        return 0
      },
    })
    releases.push(release)
    release.start()
    await waitFor(() => looks >= 4, { timeoutMs: 5_000, what: 'looks after the failing one' })
    expect(logged).toEqual(['idle heap check failed: %e'])
  })

  it("after a load, gives V8's young generation back at the first quiet window, which the same collection right after the load does not", async () => {
    const release = new IdleHeapRelease({ checkMs: 100 })
    releases.push(release)
    release.start()
    // Busy: the loop is blocked while objects survive a few young collections each, which is
    // what makes V8 grow its young generation; bounded in time, checked below.
    const ring = new Array<{ at: number; text: string }>(200_000)
    const until = Date.now() + 3_000
    for (let i = 1; Date.now() < until && (i % 10_000 !== 0 || youngGenerationMiB() < 16); i++) {
      ring[i % ring.length] = { at: i, text: `job ${i}` }
    }
    const grown = youngGenerationMiB()
    expect(grown, 'the load grew the young generation').toBeGreaterThanOrEqual(16)
    collectAndCompact()
    expect(youngGenerationMiB(), 'V8 measured the load: it keeps its young generation').toBe(grown)
    ring.fill({ at: 0, text: '' })
    await waitFor(() => release.releases === 1, {
      timeoutMs: 20_000,
      what: 'the collection after a quiet window',
    })
    expect(youngGenerationMiB()).toBeLessThanOrEqual(2)
  }, 30_000)

  it("measures a window's allocation across V8's own young-generation collections, and leaves it unjudged after a full one", () => {
    const gc = youngAndFullGc()
    const window = v8Heap.openWindow()
    // 6 MB that stay (promoted by the collections in between: V8 counts promotion too), in three
    // parts with a young-generation collection after each.
    const kept: string[] = []
    for (let part = 0; part < 3; part++) {
      for (let i = 0; i < 20_000; i++) kept.push(`${part}:${i}:`.padEnd(100, 'x'))
      gc.young()
    }
    const { ms, bytesPerMs } = window.close()
    expect(kept.length).toBe(60_000)
    expect((bytesPerMs ?? 0) * ms, 'bytes counted').toBeGreaterThan(6_000_000)
    const withFull = v8Heap.openWindow()
    gc.full()
    expect(withFull.close().bytesPerMs).toBeUndefined()
  })

  it('compacts the old generation a load left fragmented', () => {
    // Objects promoted to the old generation, then a random 45 % of them dropped: every page
    // keeps about half its objects, which a plain full collection leaves where they are.
    let held = Array.from({ length: 300_000 }, (_, i) => ({ at: i, text: `job ${i}`, list: [i] }))
    collectAndCompact()
    held = held.filter((_, i) => (i * 7919) % 100 < 55)
    collectAndCompact()
    const old = oldSpaceMiB()
    expect(held.length).toBeGreaterThan(150_000)
    expect(
      old.committed - old.used,
      `old space ${old.committed} MiB committed, ${old.used} used`,
    ).toBeLessThan(old.committed * 0.1)
  })
})

/** V8's `gc` (`--expose-gc` at run time, as the release does): a young-generation or a full collection. */
function youngAndFullGc(): { young: () => void; full: () => void } {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as (options?: { type: 'minor' }) => void
  return { young: () => gc({ type: 'minor' }), full: () => gc() }
}

/** V8's old space: committed and in use, MiB. */
function oldSpaceMiB(): { committed: number; used: number } {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')
  return {
    committed: (space?.space_size ?? Number.NaN) / MiB,
    used: (space?.space_used_size ?? Number.NaN) / MiB,
  }
}

/** V8's young generation (both halves of its new space), MiB. */
function youngGenerationMiB(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  return (space?.space_size ?? Number.NaN) / MiB
}
