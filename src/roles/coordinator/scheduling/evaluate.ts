/**
 * One pass over a run: from the compiled workflow and the replicated state, decide every step's
 * effective status and the actions that move the run forward. Pure and deterministic (given the
 * `random` source): any coordinator holding the same state decides the same.
 *
 * The pass walks steps in topological order, so when a step is decided its dependencies (and, for
 * a workflow step, its children) already are; decisions made earlier in the pass (a skip, a
 * dispatch) are visible to later steps, so one call yields a consistent batch. Failures are found
 * in a first sweep, because fail-fast must stop sibling steps that come earlier in the order.
 * Semantics: ../workflow/README.md.
 */

import { hlcWall } from '../../../protocols/state/hlc.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import { isTerminalPhase, type StepEntry, type StepError } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { evaluateExpression, isTruthy } from '../workflow/expression-evaluate.js'
import { canRetry, delayFor } from '../workflow/retry-policy.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import { CHILD_FAILED_ERROR_TYPE, DEFAULT_RUN_CONCURRENCY, TIMEOUT_ERROR_TYPE } from './constants.js'
import { jobIdOf } from './jobs.js'
import { ScopeEnvironments } from './scopes.js'
import type {
  CancelReason,
  DispatchAction,
  PlanAction,
  PlanLimits,
  RunFailure,
  RunStatus,
  SkipReason,
  StepStatus,
} from './types.js'

/** How a scope (the top level, or a workflow step's children) stands. */
type ScopeVerdict =
  | { readonly kind: 'open' }
  | { readonly kind: 'wait' }
  | { readonly kind: 'skip'; readonly reason: SkipReason }
  | { readonly kind: 'abort'; readonly reason: CancelReason }

const OPEN: ScopeVerdict = { kind: 'open' }
const WAIT: ScopeVerdict = { kind: 'wait' }
const TERMINAL_STATUSES: ReadonlySet<StepStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled'])

export interface EvaluationOptions extends PlanLimits {
  /** When true no action is recorded (reports only). */
  readonly observe?: boolean
}

function inFlight(entry: StepEntry | undefined): boolean {
  return entry !== undefined && (entry.phase === 'dispatched' || entry.phase === 'running')
}

export function timeoutError(attempt: number, timeoutMs: number): StepError {
  return { type: TIMEOUT_ERROR_TYPE, message: `attempt ${attempt} timed out after ${timeoutMs} ms` }
}

export class RunEvaluation {
  readonly actions: PlanAction[] = []
  readonly status: StepStatus[]
  readonly output: JsonValue[]
  readonly error: (StepError | undefined)[]
  readonly reason: (string | undefined)[]
  readonly retryAt: (number | undefined)[]
  readonly entries: (StepEntry | undefined)[]
  runStatus: RunStatus = 'pending'
  wakeAt: number | undefined
  outputs: JsonObject | undefined
  failure: RunFailure | undefined

  readonly #wf: CompiledWorkflow
  readonly #steps: readonly CompiledStep[]
  readonly #state: RunState
  readonly #now: number
  readonly #random: () => number
  readonly #maxConcurrency: number
  readonly #observe: boolean
  readonly #redispatch: boolean
  #budget: number
  #inflight = 0
  #dispatched = false
  readonly #expired: Uint8Array
  readonly #finalFailed: Uint8Array
  /** `fatal[scope + 1]`: the scope (−1 = top level) has a failure that is not continued on. */
  readonly #fatal: Uint8Array
  readonly #fatalCause: Int32Array
  readonly #compositeFailed: Uint8Array
  readonly #verdicts = new Map<number, ScopeVerdict>()
  readonly #envs: ScopeEnvironments
  #root: ScopeVerdict = OPEN

  constructor(workflow: CompiledWorkflow, state: RunState, now: number, options: EvaluationOptions = {}) {
    this.#wf = workflow
    this.#steps = workflow.steps
    this.#state = state
    this.#now = now
    this.#random = options.random ?? Math.random
    this.#maxConcurrency = options.maxConcurrency ?? DEFAULT_RUN_CONCURRENCY
    this.#observe = options.observe === true
    this.#redispatch = options.redispatchInFlight === true && !this.#observe
    this.#budget = this.#observe ? 0 : (options.maxDispatch ?? Number.POSITIVE_INFINITY)
    const n = this.#steps.length
    this.status = new Array<StepStatus>(n).fill('pending')
    this.output = new Array<JsonValue>(n).fill(null)
    this.error = new Array<StepError | undefined>(n)
    this.reason = new Array<string | undefined>(n)
    this.retryAt = new Array<number | undefined>(n)
    this.entries = this.#steps.map((step) => state.step(step.id))
    this.#expired = new Uint8Array(n)
    this.#finalFailed = new Uint8Array(n)
    this.#fatal = new Uint8Array(n + 1)
    this.#fatalCause = new Int32Array(n + 1).fill(-1)
    this.#compositeFailed = new Uint8Array(n)
    this.#envs = new ScopeEnvironments(workflow, state.meta?.inputs ?? {}, this)
  }

  run(): this {
    this.#findFailures()
    this.#root =
      this.#state.cancelled !== undefined
        ? { kind: 'abort', reason: 'run_cancelled' }
        : this.#fatal[0] === 1
          ? { kind: 'abort', reason: 'run_failed' }
          : OPEN
    for (const step of this.#steps) this.#decide(step)
    this.#finish()
    return this
  }

  // --- first sweep: timeouts and failures that are final -------------------------------------

  #findFailures(): void {
    for (const step of this.#steps) {
      const i = step.index
      const entry = this.entries[i]
      if (entry === undefined) continue
      if (inFlight(entry)) {
        const deadline = this.#deadline(step, entry)
        if (deadline !== undefined && this.#now >= deadline) this.#expired[i] = 1
        else this.#inflight++
      }
      const final =
        (entry.phase === 'failed' && !canRetry(step.retry, entry.attempt, entry.error)) ||
        (this.#expired[i] === 1 && !canRetry(step.retry, entry.attempt))
      if (final) {
        this.#finalFailed[i] = 1
        if (!step.continueOnFailure) this.#markFatal(step.scope, i)
      }
    }
    // A workflow step comes after all its children, and an inner one before an outer one.
    for (const step of this.#steps) {
      if (step.kind !== 'workflow' || this.#fatal[step.index + 1] !== 1) continue
      const entry = this.entries[step.index]
      if (entry !== undefined && isTerminalPhase(entry.phase)) continue
      this.#compositeFailed[step.index] = 1
      this.#finalFailed[step.index] = 1
      if (!step.continueOnFailure) this.#markFatal(step.scope, step.index)
    }
  }

  #markFatal(scope: number, cause: number): void {
    this.#fatal[scope + 1] = 1
    if (this.#fatalCause[scope + 1] === -1) this.#fatalCause[scope + 1] = cause
  }

  #deadline(step: CompiledStep, entry: StepEntry): number | undefined {
    if (step.timeoutMs === undefined) return undefined
    return (entry.dispatchedAt ?? hlcWall(entry.hlc)) + step.timeoutMs
  }

  // --- scopes ---------------------------------------------------------------------------------

  #verdict(scope: number): ScopeVerdict {
    if (scope === -1) return this.#root
    const known = this.#verdicts.get(scope)
    if (known !== undefined) return known
    const verdict = this.#computeVerdict(this.#steps[scope] as CompiledStep)
    // `wait` may turn into something else later in the pass, once dependencies are decided.
    if (verdict.kind !== 'wait') this.#verdicts.set(scope, verdict)
    return verdict
  }

  #computeVerdict(step: CompiledStep): ScopeVerdict {
    const parent = this.#verdict(step.scope)
    if (parent.kind === 'abort' || parent.kind === 'wait') return parent
    if (parent.kind === 'skip') return { kind: 'skip', reason: 'parent_skipped' }
    const entry = this.entries[step.index]
    if (
      this.#compositeFailed[step.index] === 1 ||
      entry?.phase === 'failed' ||
      entry?.phase === 'cancelled'
    ) {
      return { kind: 'abort', reason: 'parent_failed' }
    }
    if (entry?.phase === 'skipped')
      return { kind: 'skip', reason: (entry.reason as SkipReason) ?? 'condition' }
    if (entry?.phase === 'succeeded') return OPEN
    return this.#gate(step) ?? OPEN
  }

  /** Dependencies and `when` of a step not yet started: wait, skip, or `undefined` to go ahead. */
  #gate(step: CompiledStep): ScopeVerdict | undefined {
    let blocked = false
    for (const d of step.deps) {
      const status = this.status[d] as StepStatus
      if (!TERMINAL_STATUSES.has(status)) return WAIT
      if (
        status === 'failed' ||
        status === 'cancelled' ||
        (status === 'skipped' && this.reason[d] !== 'condition')
      ) {
        blocked = true
      }
    }
    if (blocked) return { kind: 'skip', reason: 'upstream_failed' }
    if (step.when !== undefined && !isTruthy(evaluateExpression(step.when, this.#envs.scope(step.scope)))) {
      return { kind: 'skip', reason: 'condition' }
    }
    return undefined
  }

  // --- per-step decisions ---------------------------------------------------------------------

  #decide(step: CompiledStep): void {
    const i = step.index
    const entry = this.entries[i]
    const settled = entry !== undefined && isTerminalPhase(entry.phase)
    if (settled && (entry.phase !== 'failed' || this.#finalFailed[i] === 1)) {
      this.#settle(i, entry)
      return
    }
    if (this.#finalFailed[i] === 1) {
      // The step is the failure (a last attempt timed out, or a child of this workflow step failed):
      // record it as such, even though it is what aborts its scope.
      if (step.kind === 'workflow') this.#failWorkflowStep(step)
      else this.#decideInFlight(step, entry as StepEntry)
      return
    }
    const scope = this.#verdict(step.scope)
    if (scope.kind === 'abort') this.#cancel(step, entry, scope.reason)
    else if (scope.kind === 'skip' && inFlight(entry)) this.#cancel(step, entry, 'parent_failed')
    else if (scope.kind === 'skip') this.#skip(step, entry, 'parent_skipped')
    else if (scope.kind === 'wait') this.status[i] = 'pending'
    else if (step.kind === 'workflow') this.#decideWorkflowStep(step)
    else if (entry === undefined) this.#decideNew(step)
    else if (inFlight(entry)) this.#decideInFlight(step, entry)
    else if (entry.phase === 'failed') {
      this.#retry(step, entry.attempt, entry.finishedAt ?? hlcWall(entry.hlc), entry.error as StepError)
    } else {
      this.error[i] = entry.error
      this.#awaitRetry(step, entry.attempt, entry.retryAt ?? 0)
    }
  }

  #decideNew(step: CompiledStep): void {
    const gate = this.#gate(step)
    if (gate === undefined) this.#dispatch(step, 1)
    else if (gate.kind === 'skip') this.#skip(step, undefined, gate.reason)
  }

  #decideInFlight(step: CompiledStep, entry: StepEntry): void {
    const i = step.index
    if (this.#expired[i] !== 1) {
      this.status[i] = entry.phase as StepStatus
      this.#wake(this.#deadline(step, entry))
      if (this.#redispatch) this.#emit(this.#dispatchAction(step, entry.attempt))
      return
    }
    const error = timeoutError(entry.attempt, step.timeoutMs as number)
    const willRetry = this.#finalFailed[i] !== 1
    const jobId = this.#jobId(step, entry.attempt)
    this.#emit({ type: 'timeout', step: step.id, attempt: entry.attempt, jobId, error, willRetry })
    if (willRetry) this.#retry(step, entry.attempt, this.#now, error)
    else this.#setFailed(i, error)
  }

  #settle(i: number, entry: StepEntry): void {
    this.status[i] = entry.phase as StepStatus
    if (entry.phase === 'succeeded') this.output[i] = entry.result ?? null
    this.error[i] = entry.error
    this.reason[i] = entry.reason
  }

  #failWorkflowStep(step: CompiledStep): void {
    const cause = this.#steps[this.#fatalCause[step.index + 1] as number] as CompiledStep
    const causeError = this.error[cause.index] ?? this.entries[cause.index]?.error
    const error: StepError = {
      type: CHILD_FAILED_ERROR_TYPE,
      message: `step "${cause.localId}" of workflow "${step.workflowName}" failed: ${causeError?.message ?? 'unknown error'}`,
    }
    this.#emit({ type: 'fail', step: step.id, error })
    this.#setFailed(step.index, error)
  }

  #decideWorkflowStep(step: CompiledStep): void {
    const i = step.index
    const verdict = this.#verdict(i)
    if (verdict.kind === 'skip') this.#skip(step, this.entries[i], verdict.reason)
    if (verdict.kind !== 'open') return
    let done = true
    let started = false
    for (const child of step.children.values()) {
      const status = this.status[child] as StepStatus
      if (!TERMINAL_STATUSES.has(status)) done = false
      if (status !== 'pending' && status !== 'ready') started = true
    }
    if (!done) {
      this.status[i] = started ? 'running' : 'pending'
      return
    }
    const env = this.#envs.scope(i)
    const output = Object.fromEntries(
      [...step.outputs].map(([name, expr]) => [name, evaluateExpression(expr, env)]),
    )
    this.#emit({ type: 'complete', step: step.id, output })
    this.status[i] = 'succeeded'
    this.output[i] = output
  }

  #setFailed(i: number, error: StepError): void {
    this.status[i] = 'failed'
    this.error[i] = error
  }

  #skip(step: CompiledStep, entry: StepEntry | undefined, reason: SkipReason): void {
    this.#emit({ type: 'skip', step: step.id, attempt: entry?.attempt ?? 1, reason })
    this.status[step.index] = 'skipped'
    this.reason[step.index] = reason
  }

  #cancel(step: CompiledStep, entry: StepEntry | undefined, reason: CancelReason): void {
    const attempt = entry?.attempt ?? 1
    const jobId = inFlight(entry) ? this.#jobId(step, attempt) : undefined
    this.#emit({ type: 'cancel', step: step.id, attempt, reason, jobId })
    this.status[step.index] = 'cancelled'
    this.reason[step.index] = reason
  }

  #retry(step: CompiledStep, failed: number, failedAt: number, error: StepError): void {
    const retryAt = failedAt + delayFor(step.retry, failed, this.#random)
    this.#emit({ type: 'retry', step: step.id, attempt: failed + 1, retryAt, error })
    this.error[step.index] = error
    this.#awaitRetry(step, failed + 1, retryAt)
  }

  #awaitRetry(step: CompiledStep, attempt: number, retryAt: number): void {
    this.retryAt[step.index] = retryAt
    if (this.#now >= retryAt) {
      this.#dispatch(step, attempt)
      return
    }
    this.status[step.index] = 'retrying'
    this.#wake(retryAt)
  }

  #dispatch(step: CompiledStep, attempt: number): void {
    const i = step.index
    if (this.#state.paused || this.#budget <= 0 || this.#inflight >= this.#maxConcurrency) {
      this.status[i] = 'ready'
      return
    }
    this.#emit(this.#dispatchAction(step, attempt))
    this.#budget--
    this.#inflight++
    this.#dispatched = true
    this.status[i] = 'dispatched'
    if (step.timeoutMs !== undefined) this.#wake(this.#now + step.timeoutMs)
  }

  #dispatchAction(step: CompiledStep, attempt: number): DispatchAction {
    const input: JsonObject = {}
    for (const d of step.deps) {
      const dep = this.#steps[d] as CompiledStep
      input[dep.localId] = this.status[d] === 'succeeded' ? (this.output[d] as JsonValue) : null
    }
    return {
      type: 'dispatch',
      step: step.id,
      attempt,
      jobId: this.#jobId(step, attempt),
      runner: step.runner as string,
      payload: step.payload,
      input,
      timeoutMs: step.timeoutMs,
    }
  }

  #jobId(step: CompiledStep, attempt: number): string {
    return jobIdOf(this.#state.run, step.id, attempt)
  }

  #wake(at: number | undefined): void {
    if (at !== undefined && at > this.#now && (this.wakeAt === undefined || at < this.wakeAt))
      this.wakeAt = at
  }

  #emit(action: PlanAction): void {
    if (!this.#observe) this.actions.push(action)
  }

  // --- the run as a whole ---------------------------------------------------------------------

  #finish(): void {
    const allTerminal = this.status.every((status) => TERMINAL_STATUSES.has(status))
    if (this.#state.cancelled !== undefined) this.runStatus = 'cancelled'
    else if (this.#fatal[0] === 1) {
      this.runStatus = 'failed'
      const cause = this.#fatalCause[0] as number
      const step = this.#steps[cause] as CompiledStep
      const error = this.error[cause] ?? { message: 'failed' }
      this.failure = { step: step.id, error }
    } else if (allTerminal) {
      this.runStatus = 'completed'
      const env = this.#envs.scope(-1)
      this.outputs = Object.fromEntries(
        [...this.#wf.outputs].map(([name, expr]) => [name, evaluateExpression(expr, env)]),
      )
    } else if (this.#state.paused) this.runStatus = 'paused'
    else if (this.#state.stepCount === 0 && !this.#dispatched) this.runStatus = 'pending'
    else this.runStatus = 'running'

    const status = this.runStatus
    if (status !== 'completed' && status !== 'failed' && status !== 'cancelled') return
    this.wakeAt = undefined
    const logged = ['workflow_completed', 'workflow_failed', 'workflow_cancelled'].some((t) =>
      this.#state.hasEvent(t),
    )
    if (allTerminal && !logged)
      this.#emit({ type: 'finish', status, outputs: this.outputs, error: this.failure })
  }
}
