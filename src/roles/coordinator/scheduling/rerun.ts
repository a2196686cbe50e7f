/**
 * Rerunning a finished run (`retry_workflow`): failed, cancelled and skipped steps — or the steps
 * named, with everything downstream of them — get a new attempt, stored as `pending` so they wait
 * for their dependencies again; succeeded steps keep their outputs. The rerun opens the run's next
 * epoch (a cancel of the previous epoch no longer applies, the run's `timeout` counts afresh) and
 * the log keeps every earlier attempt.
 */
import { hlcWall } from '../../../protocols/state/hlc.js'
import { isTerminalPhase, type StepEntry } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import { NothingToRetryError, RunNotFinishedError, UnknownStepError } from './errors.js'
import { childEntries, childIds } from './map-steps.js'
import { runStatus } from './plan.js'
import { TERMINAL_RUN_STATUSES } from './types.js'

export interface RetryRunOptions {
  /** Stamp of the rerun (`hlc.now()`). */
  readonly stamp: string
  /** Run these steps again, whatever their state, and every step downstream of them. */
  readonly steps?: readonly string[]
}

export interface RetryRunResult {
  readonly delta: RunState
  /** Ids of the steps (and for_each children) that run again. */
  readonly reset: readonly string[]
}

const RERUN_WHEN_FAILED: ReadonlySet<string> = new Set(['failed', 'cancelled', 'skipped'])
/** Ids listed in the `workflow_retried` event; the rest are counted. */
const MAX_LOGGED_IDS = 100

/** Which steps run again: `whole` ones with all their children, `own` ones only for their own entry. */
class RerunSet {
  readonly whole = new Set<number>()
  readonly own = new Set<number>()
  readonly #steps: readonly CompiledStep[]

  constructor(workflow: CompiledWorkflow) {
    this.#steps = workflow.steps
  }

  /** A step runs again, and so does everything downstream (its output may change). */
  force(index: number): void {
    const stack = [index]
    while (stack.length > 0) {
      const i = stack.pop() as number
      if (this.whole.has(i)) continue
      this.whole.add(i)
      const step = this.#steps[i] as CompiledStep
      stack.push(...step.dependents, ...step.children.values())
      // The workflow step around it recomputes its output from its children: it and its dependents.
      if (step.scope >= 0 && !this.whole.has(step.scope)) {
        this.own.add(step.scope)
        stack.push(...(this.#steps[step.scope] as CompiledStep).dependents)
      }
    }
  }
}

/** Records a rerun of a finished run; throws RunNotFinishedError, UnknownStepError, NothingToRetryError. */
export function retryRun(
  workflow: CompiledWorkflow,
  state: RunState,
  options: RetryRunOptions,
): RetryRunResult {
  const status = runStatus(workflow, state, hlcWall(options.stamp))
  if (!TERMINAL_RUN_STATUSES.has(status)) throw new RunNotFinishedError(state.run, status)
  const set = new RerunSet(workflow)
  if (options.steps !== undefined) {
    for (const id of options.steps) {
      const step = workflow.byId.get(id)
      if (step === undefined) throw new UnknownStepError(state.run, id)
      set.force(step.index)
    }
  }
  const delta = state.startRerun(options.stamp, options.steps)
  const reset: string[] = []
  const again = (id: string, entry: StepEntry): void => {
    const attempt = entry.attempt + 1
    delta.merge(state.setStep(id, { attempt, phase: 'pending', hlc: options.stamp, base: attempt }))
    reset.push(id)
  }
  for (const step of workflow.steps) {
    const entry = state.step(step.id)
    if (entry === undefined || entry.phase === 'pending') continue
    const forced = set.whole.has(step.index)
    const failed = RERUN_WHEN_FAILED.has(entry.phase)
    if (!forced && !set.own.has(step.index) && !step.onFailure && !(options.steps === undefined && failed))
      continue
    again(step.id, entry)
    if (step.forEach !== undefined && entry.items !== undefined) {
      const children = childEntries(state, step, entry.items)
      const ids = childIds(step, entry.items)
      children.forEach((child, i) => {
        if (child === undefined || child.phase === 'pending') return
        if (forced || (isTerminalPhase(child.phase) && child.phase !== 'succeeded'))
          again(ids[i] as string, child)
      })
    }
  }
  const mainReset = reset.filter((id) => workflow.byId.get(id)?.onFailure !== true)
  if (mainReset.length === 0) throw new NothingToRetryError(state.run)
  const shown = reset.slice(0, MAX_LOGGED_IDS)
  const more = reset.length > shown.length ? ` and ${reset.length - shown.length} more` : ''
  delta.merge(
    state.appendLog({
      hlc: options.stamp,
      kind: 'event',
      type: 'workflow_retried',
      severity: 'info',
      message: `workflow retried (epoch ${state.epoch}): ${shown.join(', ')}${more} run again`,
      data: { epoch: state.epoch, steps: shown, count: reset.length },
    }),
  )
  return { delta, reset }
}
