/**
 * Small facts about one attempt of a step, shared by the evaluation pass and the transitions:
 * whether it is in flight, its deadline, its place in the current series of attempts (a rerun
 * starts a new series with a fresh retry budget), and the errors the scheduler itself records.
 */
import { hlcWall } from '../../../protocols/state/hlc.js'
import { describeValue } from '../../../protocols/state/json-value.js'
import type { StepEntry, StepError } from '../../../protocols/state/lattice.js'
import { canRetry, delayFor } from '../workflow/retry-policy.js'
import type { CompiledStep } from '../workflow/types.js'
import {
  MAP_INVALID_ERROR_TYPE,
  MAP_ITEM_FAILED_ERROR_TYPE,
  SIGNAL_TIMEOUT_ERROR_TYPE,
  TIMEOUT_ERROR_TYPE,
} from './constants.js'

export function inFlight(entry: StepEntry | undefined): boolean {
  return entry !== undefined && (entry.phase === 'dispatched' || entry.phase === 'running')
}

/** Not started in this series: no entry yet, or reset to `pending` by a rerun. */
export function notStarted(entry: StepEntry | undefined): boolean {
  return entry === undefined || entry.phase === 'pending'
}

/** When the attempt (or the wait) started. */
export function startedAt(entry: StepEntry): number {
  return entry.dispatchedAt ?? hlcWall(entry.hlc)
}

/** The attempt's number within its series: 1 for the first attempt since the run (or its rerun) began. */
export function attemptInSeries(entry: StepEntry): number {
  return entry.attempt - (entry.base ?? 1) + 1
}

/** Whether a failed attempt gets another one under the step's policy. */
export function mayRetry(step: CompiledStep, entry: StepEntry, error?: StepError): boolean {
  return canRetry(step.retry, attemptInSeries(entry), error)
}

export function retryDelay(step: CompiledStep, entry: StepEntry, random: () => number): number {
  return delayFor(step.retry, attemptInSeries(entry), random)
}

/** When an in-flight attempt (or signal wait) times out; undefined without a timeout. */
export function deadlineOf(step: CompiledStep, entry: StepEntry): number | undefined {
  return step.timeoutMs === undefined ? undefined : startedAt(entry) + step.timeoutMs
}

export function timeoutError(step: CompiledStep, attempt: number): StepError {
  const ms = step.timeoutMs as number
  if (step.kind === 'signal') {
    return { type: SIGNAL_TIMEOUT_ERROR_TYPE, message: `no signal "${step.signal}" within ${ms} ms` }
  }
  return { type: TIMEOUT_ERROR_TYPE, message: `attempt ${attempt} timed out after ${ms} ms` }
}

export function mapInvalidError(reason: string): StepError {
  return { type: MAP_INVALID_ERROR_TYPE, message: `for_each: ${reason}`, nonRetryable: true }
}

export function notAListError(value: unknown): StepError {
  const text = value !== null && typeof value === 'object' ? JSON.stringify(value) : describeValue(value)
  return mapInvalidError(`expected a list, got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`)
}

export function mapItemError(
  step: CompiledStep,
  items: number,
  failures: number,
  first: { index: number; error: StepError | undefined },
): StepError {
  const more = failures > 1 ? ` (and ${failures - 1} more)` : ''
  return {
    type: MAP_ITEM_FAILED_ERROR_TYPE,
    message: `item ${first.index} of ${items} of step "${step.localId}" failed: ${first.error?.message ?? 'unknown error'}${more}`,
  }
}
