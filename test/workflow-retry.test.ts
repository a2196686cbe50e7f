import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  canRetry,
  compileRetryPolicy,
  delayFor,
  NO_RETRY,
  parseDuration,
  WorkflowValidationError,
} from '../src/roles/coordinator/workflow/index.js'

describe('durations', () => {
  it.each([
    [500, 500],
    [0, 0],
    ['500ms', 500],
    ['2s', 2_000],
    ['1.5s', 1_500],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    [' 3s ', 3_000],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '500', '2 s', 's', '1y', '', null, {}])(
    'rejects %j',
    (input) => {
      expect(parseDuration(input)).toBeUndefined()
    },
  )
})

describe('retry policy', () => {
  it('compiles defaults once', () => {
    expect(compileRetryPolicy({})).toEqual({
      maxAttempts: 3,
      initialDelayMs: 1_000,
      backoffBase: 2,
      maxDelayMs: 100_000,
      jitter: 0,
    })
    expect(NO_RETRY.maxAttempts).toBe(1)
    expect(Object.isFrozen(compileRetryPolicy({ max_attempts: 2 }))).toBe(true)
  })

  it('reports every bad field with what was expected and what came', () => {
    try {
      compileRetryPolicy({
        max_attempts: 0,
        initial_delay: '2s',
        max_delay: '1s',
        backoff_base: 'x',
        jitter: 2,
        extra: 1,
      })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(WorkflowValidationError)
      expect((err as WorkflowValidationError).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
        'retry.extra: unknown field (expected one of max_attempts, initial_delay, backoff_base, max_delay, jitter)',
        'retry.max_attempts: expected an integer ≥ 1, got 0',
        'retry.backoff_base: expected a number ≥ 1, got "x"',
        'retry.max_delay: expected a duration ≥ initial_delay (2000 ms), got 1000 ms',
        'retry.jitter: expected a number between 0 and 1, got 2',
      ])
    }
    expect(() => compileRetryPolicy({ max_attempts: 1.5 })).toThrow(
      'retry.max_attempts: expected an integer ≥ 1, got 1.5',
    )
    expect(() => compileRetryPolicy('3 times')).toThrow(WorkflowValidationError)
  })

  it('delayFor = min(max_delay, initial_delay · base^(attempt−1))', () => {
    const policy = compileRetryPolicy({
      initial_delay: '500ms',
      backoff_base: 2,
      max_delay: '5s',
      max_attempts: 10,
    })
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => delayFor(policy, a))).toEqual([
      500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000,
    ])
    const flat = compileRetryPolicy({ initial_delay: 250, backoff_base: 1 })
    expect([1, 5, 50].map((a) => delayFor(flat, a))).toEqual([250, 250, 250])
    // No overflow to NaN for huge attempts.
    expect(delayFor(policy, 10_000)).toBe(5_000)
    expect(() => delayFor(policy, 0)).toThrow(RangeError)
  })

  it('jitter removes up to its fraction of the delay', () => {
    const policy = compileRetryPolicy({ initial_delay: '1s', jitter: 0.25 })
    expect(delayFor(policy, 1, () => 0)).toBe(1_000)
    expect(delayFor(policy, 1, () => 0.5)).toBe(875)
    expect(delayFor(policy, 1, () => 0.999_999)).toBe(750)
    expect(delayFor(policy, 2, () => 1)).toBe(1_500)
  })

  it('property: delays grow monotonically up to the cap, and jitter stays in bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initial, base, extra, jitter, attempt, r) => {
          const policy = compileRetryPolicy({
            initial_delay: initial,
            backoff_base: base,
            max_delay: initial + extra,
            jitter,
          })
          const exact = { ...policy, jitter: 0 }
          const d = delayFor(exact, attempt)
          expect(d).toBeLessThanOrEqual(policy.maxDelayMs)
          expect(delayFor(exact, attempt + 1)).toBeGreaterThanOrEqual(d)
          const jittered = delayFor(policy, attempt, () => r)
          expect(jittered).toBeLessThanOrEqual(d)
          expect(jittered).toBeGreaterThanOrEqual(Math.floor(d * (1 - jitter)) - 1)
        },
      ),
    )
  })

  it('canRetry honours attempts and non-retryable errors', () => {
    const policy = compileRetryPolicy({ max_attempts: 3 })
    expect([1, 2, 3].map((a) => canRetry(policy, a))).toEqual([true, true, false])
    expect(canRetry(policy, 1, { nonRetryable: true })).toBe(false)
    expect(canRetry(NO_RETRY, 1)).toBe(false)
  })
})
