/**
 * A node collects its heap once when it goes idle after work (src/node/idle-heap.ts): when, from
 * a scripted utilisation, and for real — a busy event loop, then an idle one, then V8's full
 * collection observed.
 */
import { constants, PerformanceObserver, performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it } from 'vitest'
import { BUSY_UTILIZATION, IDLE_INTERVALS, IDLE_UTILIZATION, IdleHeapRelease } from '../src/node/idle-heap.js'
import { waitFor } from '../src/testing/index.js'

const releases: IdleHeapRelease[] = []
afterEach(() => {
  for (const release of releases.splice(0)) release.stop()
})

describe('IdleHeapRelease', () => {
  it('collects once after IDLE_INTERVALS idle intervals in a row that follow a busy one, never while busy or when never busy', () => {
    // idle, idle, idle (never busy); busy; idle, in between (restarts the count), idle × 3 → collect;
    // idle (already collected); busy; idle × 3 → collect.
    const script = [0.01, 0.01, 0.01, 0.5, 0.05, 0.15, 0.05, 0.01, 0.05, 0.01, 0.9, 0.05, 0.05, 0.05]
    let at = 0
    const collectedAt: number[] = []
    const release = new IdleHeapRelease({
      utilization: () => script[at] ?? 0,
      collect: () => collectedAt.push(at),
    })
    for (at = 0; at < script.length; at++) release.check()
    expect(IDLE_INTERVALS).toBe(3)
    expect(collectedAt).toEqual([8, 13])
    expect(release.releases).toBe(2)
    expect(script[5]).toBeGreaterThanOrEqual(IDLE_UTILIZATION)
    expect(script[5]).toBeLessThan(BUSY_UTILIZATION)
  })

  it('runs a full V8 collection after the event loop was busy and went idle', async () => {
    const majors: number[] = []
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors.push(entry.startTime)
      }
    })
    observer.observe({ entryTypes: ['gc'] })
    try {
      const release = new IdleHeapRelease({ checkMs: 100 })
      releases.push(release)
      release.start()
      // Busy: the loop is blocked for 300 ms, so the interval around it is nearly all work.
      const until = Date.now() + 300
      let garbage: unknown[] = []
      while (Date.now() < until) garbage = [{ at: Date.now() }, ...garbage.slice(0, 1_000)]
      const busyEnded = performance.now()
      expect(garbage.length).toBeGreaterThan(0)
      await waitFor(() => release.releases === 1, { timeoutMs: 5_000, what: 'the collection once idle' })
      // The garbage made while busy may have had its own collections; this one came after.
      await waitFor(() => majors.some((at) => at > busyEnded), {
        timeoutMs: 2_000,
        what: 'V8 to report the full collection',
      })
    } finally {
      observer.disconnect()
    }
  })
})
