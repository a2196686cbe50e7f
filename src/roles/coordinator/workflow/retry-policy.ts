/**
 * A step's retry policy, validated and compiled once (the shape of Temporal's retry-policy.ts):
 * the file says `retry: { max_attempts, initial_delay, backoff_base, max_delay, jitter }`; the
 * scheduler only ever sees the compiled, all-fields-present `RetryPolicy`.
 */

import { isPlainObject } from '../../../protocols/state/json-value.js'
import {
  DEFAULT_BACKOFF_BASE,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_JITTER,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_DELAY_FACTOR,
} from './constants.js'
import { DURATION_EXPECTED, parseDuration } from './duration.js'
import { WorkflowValidationError } from './errors.js'
import { Issues, pathKey } from './issues.js'
import { suggest } from './suggest.js'

export interface RetryPolicy {
  /** Total attempts, the first included; 1 means no retry. */
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly backoffBase: number
  readonly maxDelayMs: number
  /** Fraction (0–1) of each delay drawn at random: the delay falls in [d·(1−jitter), d]. */
  readonly jitter: number
}

/** The policy of a step without a `retry` block: one attempt. */
export const NO_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 1,
  initialDelayMs: DEFAULT_INITIAL_DELAY_MS,
  backoffBase: DEFAULT_BACKOFF_BASE,
  maxDelayMs: DEFAULT_INITIAL_DELAY_MS * DEFAULT_MAX_DELAY_FACTOR,
  jitter: DEFAULT_JITTER,
})

const FIELDS = ['max_attempts', 'initial_delay', 'backoff_base', 'max_delay', 'jitter']

function readDuration(
  fields: Record<string, unknown>,
  key: string,
  path: string,
  issues: Issues,
): number | undefined {
  const value = fields[key]
  if (value === undefined) return undefined
  const ms = parseDuration(value)
  if (ms === undefined) issues.expected(pathKey(path, key), DURATION_EXPECTED, value)
  return ms
}

/**
 * Reads a `retry` block at `path`, adding an issue per bad field; the returned policy uses
 * defaults where a field was missing or bad (it is only used if no issue was added).
 */
export function readRetryPolicy(value: unknown, path: string, issues: Issues): RetryPolicy {
  if (value === undefined) return NO_RETRY
  if (!isPlainObject(value)) {
    issues.expected(
      path,
      'an object with max_attempts, initial_delay, backoff_base, max_delay, jitter',
      value,
    )
    return NO_RETRY
  }
  for (const key of Object.keys(value)) {
    if (!FIELDS.includes(key)) {
      issues.add(
        pathKey(path, key),
        `unknown field${suggest(key, FIELDS)} (expected one of ${FIELDS.join(', ')})`,
      )
    }
  }
  let maxAttempts = DEFAULT_MAX_ATTEMPTS
  if (value.max_attempts !== undefined) {
    const n = value.max_attempts
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1) maxAttempts = n
    else issues.expected(pathKey(path, 'max_attempts'), 'an integer ≥ 1', n)
  }
  const initialDelayMs = readDuration(value, 'initial_delay', path, issues) ?? DEFAULT_INITIAL_DELAY_MS
  let backoffBase = DEFAULT_BACKOFF_BASE
  if (value.backoff_base !== undefined) {
    const b = value.backoff_base
    if (typeof b === 'number' && Number.isFinite(b) && b >= 1) backoffBase = b
    else issues.expected(pathKey(path, 'backoff_base'), 'a number ≥ 1', b)
  }
  let maxDelayMs = readDuration(value, 'max_delay', path, issues)
  if (maxDelayMs !== undefined && maxDelayMs < initialDelayMs) {
    issues.add(
      pathKey(path, 'max_delay'),
      `expected a duration ≥ initial_delay (${initialDelayMs} ms), got ${maxDelayMs} ms`,
    )
  }
  maxDelayMs ??= initialDelayMs * DEFAULT_MAX_DELAY_FACTOR
  let jitter = DEFAULT_JITTER
  if (value.jitter !== undefined) {
    const j = value.jitter
    if (typeof j === 'number' && j >= 0 && j <= 1) jitter = j
    else issues.expected(pathKey(path, 'jitter'), 'a number between 0 and 1', j)
  }
  return Object.freeze({ maxAttempts, initialDelayMs, backoffBase, maxDelayMs, jitter })
}

/** Compiles a `retry` block on its own; throws `WorkflowValidationError` listing every bad field. */
export function compileRetryPolicy(value: unknown, path = 'retry'): RetryPolicy {
  const issues = new Issues()
  const policy = readRetryPolicy(value, path, issues)
  if (issues.size > 0) throw new WorkflowValidationError(issues.list)
  return policy
}

/**
 * Milliseconds to wait after attempt `attempt` (1-based) failed, before the next one:
 * `min(maxDelay, initialDelay · base^(attempt−1))`, then reduced by up to `jitter` of itself.
 * `random` returns a number in [0, 1).
 */
export function delayFor(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt: expected an integer ≥ 1, got ${attempt}`)
  }
  const exponential = policy.initialDelayMs * policy.backoffBase ** (attempt - 1)
  const capped = Math.min(policy.maxDelayMs, exponential)
  if (policy.jitter === 0) return Math.round(capped)
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.round(capped * (1 - policy.jitter * r))
}

/** Whether a step whose attempt `attempt` failed with `error` gets another attempt. */
export function canRetry(
  policy: RetryPolicy,
  attempt: number,
  error?: { readonly nonRetryable?: boolean },
): boolean {
  return attempt < policy.maxAttempts && error?.nonRetryable !== true
}
