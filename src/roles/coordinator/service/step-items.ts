/**
 * The children of a `for_each` step as the API shows them (`coordinator.get_step_items`): a page of
 * `StepView`s, one per child (`step[i]`), read from the replicated state like every other view.
 * `RunView` only counts them (`StepView.items`), since a map may have 100,000 children.
 */
import type { StepEntry, StepError } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { StepNotMappedError } from '../scheduling/errors.js'
import { jobIdOf } from '../scheduling/jobs.js'
import { childEntries, childIds } from '../scheduling/map-steps.js'
import type { StepStatus } from '../scheduling/types.js'
import type { CompiledStep } from '../workflow/types.js'
import type { StepView } from './api-types.js'

/** Children listed per call at most. @default 1_000 */
export const MAX_ITEMS_PAGE = 1_000

export interface StepItemsPage {
  /** Children the step has (0 before it started). */
  total: number
  offset: number
  items: StepView[]
}

const iso = (ms: number): string => new Date(ms).toISOString()

function errorView(error: StepError): NonNullable<StepView['error']> {
  return { name: error.type ?? 'Error', message: error.message, retryable: error.nonRetryable !== true }
}

function childView(run: string, step: CompiledStep, id: string, entry: StepEntry | undefined): StepView {
  const status: StepStatus = entry === undefined || entry.phase === 'pending' ? 'pending' : entry.phase
  const attempts =
    entry === undefined
      ? 0
      : entry.phase === 'retrying' || entry.phase === 'pending'
        ? entry.attempt - 1
        : entry.attempt
  const view: StepView = {
    id,
    dependsOn: [],
    state: status,
    attempt: entry?.firstDispatchedAt === undefined ? 0 : attempts,
  }
  if (step.runner !== undefined) view.runner = step.runner
  if (entry === undefined) return view
  const started = entry.startedAt ?? entry.dispatchedAt
  if (started !== undefined) view.startedAt = iso(started)
  if (entry.finishedAt !== undefined) view.finishedAt = iso(entry.finishedAt)
  if (entry.dispatchedAt !== undefined && (entry.finishedAt !== undefined || status === 'running'))
    view.durationMs = (entry.finishedAt ?? Date.now()) - entry.dispatchedAt
  if (view.attempt > 0) view.jobId = jobIdOf(run, id, view.attempt)
  if (status === 'succeeded') view.output = entry.result ?? null
  if (entry.error !== undefined && status !== 'succeeded') view.error = errorView(entry.error)
  if (entry.reason !== undefined) view.reason = entry.reason
  else if (status === 'retrying' && entry.retryAt !== undefined)
    view.reason = `retry at ${iso(entry.retryAt)}`
  return view
}

/** A page of a `for_each` step's children; throws StepNotMappedError for any other step. */
export function stepItems(
  state: RunState,
  step: CompiledStep,
  offset = 0,
  limit = MAX_ITEMS_PAGE,
): StepItemsPage {
  if (step.forEach === undefined) throw new StepNotMappedError(state.run, step.id)
  const total = state.step(step.id)?.items ?? 0
  const from = Math.min(offset, total)
  const count = Math.max(0, Math.min(limit, MAX_ITEMS_PAGE, total - from))
  const entries = childEntries(state, step, from + count).slice(from)
  const ids = childIds(step, from + count)
  return {
    total,
    offset: from,
    items: entries.map((entry, i) => childView(state.run, step, ids[from + i] as string, entry)),
  }
}
