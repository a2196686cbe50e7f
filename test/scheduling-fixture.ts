/**
 * Drives a run through the real scheduler and CRDT with a simulated clock and simulated
 * supervisors: each dispatched job's outcome comes from a per-step behaviour function. Nothing of
 * the scheduler is replaced; only the outside world (time, job execution) is simulated.
 */

import { Hlc } from '../src/protocols/state/hlc.js'
import type { JsonValue } from '../src/protocols/state/json-value.js'
import type { StepError } from '../src/protocols/state/lattice.js'
import type { RunState } from '../src/protocols/state/run-state.js'
import {
  cancelRun,
  commitAction,
  createRun,
  type DispatchAction,
  type Plan,
  type PlanAction,
  type PlanLimits,
  plan,
  type RetryRunResult,
  recordJobUpdate,
  retryRun,
  signalRun,
} from '../src/roles/coordinator/scheduling/index.js'
import { type CompiledWorkflow, loadWorkflow } from '../src/roles/coordinator/workflow/index.js'

/** What a simulated job does: succeed with a result, fail, or hang (never report back). */
export type Outcome = { result: JsonValue | undefined } | { error: StepError } | 'hang'
export type Behaviour = (job: DispatchAction) => Outcome

export const START = 1_700_000_000_000

export class Simulation {
  now = START
  readonly clock: Hlc
  readonly workflow: CompiledWorkflow
  readonly state: RunState
  readonly dispatched: DispatchAction[] = []
  readonly committed: PlanAction[] = []
  readonly behaviours = new Map<string, Behaviour>()
  /** Jobs that started but have not reported; completed by `settle` unless they hang. */
  readonly inFlight: DispatchAction[] = []
  limits: PlanLimits = { random: () => 0.5 }

  constructor(
    workflow: CompiledWorkflow | string,
    inputs: unknown = {},
    node = 'c1',
    state?: RunState,
    now = START,
  ) {
    this.now = now
    this.clock = new Hlc(node, { now: () => this.now })
    this.workflow =
      typeof workflow === 'string' ? loadWorkflow(workflow, { runners: ['hero', 'sal', 'osiris'] }) : workflow
    this.state = state ?? createRun(this.workflow, { run: 'run1', stamp: this.clock.now(), inputs })
  }

  /** Another coordinator holding a copy of this run's state (a takeover), with the same behaviours. */
  replica(node: string): Simulation {
    const other = new Simulation(this.workflow, {}, node, this.state.clone(), this.now)
    for (const [step, behaviour] of this.behaviours) other.behaviours.set(step, behaviour)
    other.limits = this.limits
    return other
  }

  /** Behaviour of a step's jobs; a for_each child (`map[3]`) falls back to its step's. */
  on(step: string, behaviour: Behaviour): this {
    this.behaviours.set(step, behaviour)
    return this
  }

  signal(name: string, data: unknown): void {
    signalRun(this.workflow, this.state, { name, data, stamp: this.clock.now() })
  }

  retry(steps?: string[]): RetryRunResult {
    return retryRun(this.workflow, this.state, {
      stamp: this.clock.now(),
      ...(steps === undefined ? {} : { steps }),
    })
  }

  cancel(reason?: string): void {
    cancelRun(this.state, this.clock.now(), reason)
  }

  /** Plans and commits every action (jobs are dispatched but do not run yet). */
  plan(): Plan {
    const result = plan(this.workflow, this.state, this.now, this.limits)
    for (const action of result.actions) {
      commitAction(this.state, action, this.clock.now())
      this.committed.push(action)
      if (action.type === 'dispatch') {
        this.dispatched.push(action)
        this.inFlight.push(action)
      }
    }
    return result
  }

  /** Lets every in-flight job start and report its outcome (hanging ones only start). */
  settle(): void {
    const jobs = this.inFlight.splice(0)
    for (const job of jobs) {
      recordJobUpdate(
        this.workflow,
        this.state,
        { type: 'started', step: job.step, attempt: job.attempt },
        this.clock.now(),
      )
      const behaviour = this.behaviours.get(job.step) ?? this.behaviours.get(job.step.replace(/\[\d+\]$/, ''))
      const outcome = (behaviour ?? (() => ({ result: `${job.step}#${job.attempt}` })))(job)
      if (outcome === 'hang') continue
      const update =
        'result' in outcome
          ? ({
              type: 'succeeded',
              step: job.step,
              attempt: job.attempt,
              result: outcome.result ?? null,
            } as const)
          : ({ type: 'failed', step: job.step, attempt: job.attempt, error: outcome.error } as const)
      recordJobUpdate(this.workflow, this.state, update, this.clock.now())
    }
  }

  /** Plan → run jobs → repeat, jumping the clock to `wakeAt` when idle, until the run is terminal. */
  runToEnd(maxRounds = 10_000): Plan {
    for (let round = 0; round < maxRounds; round++) {
      const result = this.plan()
      if (result.status === 'completed' || result.status === 'failed' || result.status === 'cancelled') {
        if (result.actions.length === 0) return result
        continue
      }
      if (this.inFlight.length > 0) {
        this.settle()
        continue
      }
      if (result.actions.length > 0) continue
      if (result.wakeAt === undefined) return result
      this.now = result.wakeAt
    }
    throw new Error('run did not finish')
  }

  actions<T extends PlanAction['type']>(type: T): Extract<PlanAction, { type: T }>[] {
    return this.committed.filter((action): action is Extract<PlanAction, { type: T }> => action.type === type)
  }
}
