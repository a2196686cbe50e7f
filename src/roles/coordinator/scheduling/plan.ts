/** The scheduler's entry points: what to do next (`plan`), and how the run stands (`describeRun`). */

import { hlcWall } from '../../../protocols/state/hlc.js'
import type { StepEntry } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import { RunNotCreatedError } from './errors.js'
import { RunEvaluation } from './evaluate.js'
import { childEntries } from './map-steps.js'
import type { MapItems, Plan, PlanLimits, RunReport, RunStatus, StepReport, StepStatus } from './types.js'

/**
 * The actions the owner of a run should take now, in order: record skips, cancellations, retries
 * and timeouts, dispatch ready steps (within `limits`), complete workflow steps, and finish the
 * run. Commit each with `commitAction` (then dispatch the jobs), and call `plan` again whenever the
 * state changes or `wakeAt` passes. Calling it twice on the same state returns the same actions
 * (job ids are deterministic), so a crash between planning and committing is harmless.
 */
export function plan(
  workflow: CompiledWorkflow,
  state: RunState,
  now: number,
  limits: PlanLimits = {},
): Plan {
  if (state.meta === undefined) throw new RunNotCreatedError(state.run)
  const evaluation = new RunEvaluation(workflow, state, now, limits).run()
  return {
    status: evaluation.runStatus,
    actions: evaluation.actions,
    wakeAt: evaluation.wakeAt,
    outputs: evaluation.outputs,
    error: evaluation.failure,
    needBlobs: [...evaluation.needBlobs],
  }
}

/** The run's status as `plan` would leave it, without planning any dispatch. */
export function runStatus(
  workflow: CompiledWorkflow,
  state: RunState,
  now: number,
  limits: Pick<PlanLimits, 'blobs'> = {},
): RunStatus {
  return new RunEvaluation(workflow, state, now, { ...limits, observe: true }).run().runStatus
}

const STATUSES: readonly StepStatus[] = [
  'pending',
  'ready',
  'dispatched',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
]

/**
 * Status, attempts and timings of the run and each step (for `get_workflow_status`,
 * `get_workflow_metrics`, `pending_steps`). Steps the scheduler has decided but not yet recorded
 * (a skip, say) are shown as decided.
 */
export function describeRun(
  workflow: CompiledWorkflow,
  state: RunState,
  now: number,
  limits: Pick<PlanLimits, 'blobs'> = {},
): RunReport {
  const evaluation = new RunEvaluation(workflow, state, now, { ...limits, observe: true }).run()
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0])) as Record<StepStatus, number>
  let finishedAt: number | undefined
  const steps = workflow.steps.map((step): StepReport => {
    const entry = evaluation.entries[step.index]
    const status = evaluation.status[step.index] as StepStatus
    counts[status]++
    const finished = entry?.finishedAt
    if (finished !== undefined && (finishedAt === undefined || finished > finishedAt)) finishedAt = finished
    const end = finished ?? (status === 'dispatched' || status === 'running' ? now : undefined)
    return {
      id: step.id,
      status,
      // A retrying or reset (pending) entry opens an attempt not made yet.
      attempts:
        entry?.phase === 'retrying' || entry?.phase === 'pending' ? entry.attempt - 1 : (entry?.attempt ?? 0),
      reason: evaluation.reason[step.index],
      error: evaluation.error[step.index],
      output: status === 'succeeded' ? evaluation.outputOf(step.index) : undefined,
      retryAt: status === 'retrying' ? evaluation.retryAt[step.index] : undefined,
      firstDispatchedAt: entry?.firstDispatchedAt,
      dispatchedAt: entry?.dispatchedAt,
      startedAt: entry?.startedAt,
      finishedAt: finished,
      durationMs:
        entry?.dispatchedAt !== undefined && end !== undefined ? end - entry.dispatchedAt : undefined,
      totalMs:
        entry?.firstDispatchedAt !== undefined && end !== undefined
          ? end - entry.firstDispatchedAt
          : undefined,
      items: mapItems(state, step, entry, evaluation.mapProgress(step.index)),
    }
  })
  const terminal =
    evaluation.runStatus === 'completed' ||
    evaluation.runStatus === 'failed' ||
    evaluation.runStatus === 'cancelled'
  return {
    run: state.run,
    workflow: workflow.name,
    status: evaluation.runStatus,
    createdAt: state.meta === undefined ? undefined : hlcWall(state.meta.hlc),
    finishedAt: terminal ? finishedAt : undefined,
    paused: state.paused,
    cancelled: state.cancelled !== undefined,
    epoch: state.epoch,
    outputs: evaluation.outputs,
    error: evaluation.failure,
    steps,
    counts,
  }
}

/** A for_each step's children by status: as decided in this pass, else as stored. */
function mapItems(
  state: RunState,
  step: CompiledStep,
  entry: StepEntry | undefined,
  decided: readonly StepStatus[] | undefined,
): MapItems | undefined {
  if (step.forEach === undefined || entry?.items === undefined) return undefined
  const counts: Partial<Record<StepStatus, number>> = {}
  const statuses = decided ?? childEntries(state, step, entry.items).map((child) => childStatus(child))
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1
  return { total: entry.items, counts }
}

function childStatus(child: StepEntry | undefined): StepStatus {
  if (child === undefined || child.phase === 'pending') return 'pending'
  return child.phase
}
