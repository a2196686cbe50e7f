import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MAX_TIMER_DELAY_MS, setLongTimeout } from '../src/core/long-timeout.js'

// vitest's fake timers run a delay above 2^31 − 1 ms after 1 ms, as Node does.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('setLongTimeout', () => {
  it('fires a delay beyond setTimeout’s range when it is due, not at once', () => {
    const fn = vi.fn()
    const delay = 2 * MAX_TIMER_DELAY_MS + 5_000
    setLongTimeout(fn, delay)
    vi.advanceTimersByTime(1)
    expect(fn).not.toHaveBeenCalled()
    vi.advanceTimersByTime(2 * MAX_TIMER_DELAY_MS)
    expect(fn).not.toHaveBeenCalled()
    vi.advanceTimersByTime(delay - 2 * MAX_TIMER_DELAY_MS - 2)
    expect(fn).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fn).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(10 * MAX_TIMER_DELAY_MS)
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('fires a delay within range as setTimeout does, and never after clear, in any step', () => {
    const near = vi.fn()
    setLongTimeout(near, 100)
    vi.advanceTimersByTime(99)
    expect(near).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(near).toHaveBeenCalledTimes(1)

    const far = vi.fn()
    const timer = setLongTimeout(far, MAX_TIMER_DELAY_MS + 10)
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS + 1) // into its second step
    timer.clear()
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS)
    expect(far).not.toHaveBeenCalled()

    const never = vi.fn()
    setLongTimeout(never, Number.POSITIVE_INFINITY)
    vi.advanceTimersByTime(5 * MAX_TIMER_DELAY_MS)
    expect(never).not.toHaveBeenCalled()
  })
})
