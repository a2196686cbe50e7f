/**
 * One pass over a run: from the compiled workflow and the replicated state, decide every step's
 * effective status and the actions that move the run forward. Pure and deterministic (given the
 * `random` source): any coordinator holding the same state decides the same.
 *
 * The pass walks steps in topological order, so when a step is decided its dependencies (and, for
 * a workflow step, its children) already are; decisions made earlier in the pass (a skip, a
 * dispatch) are visible to later steps, so one call yields a consistent batch. Failures (and the
 * run's timeout) are found in a first sweep, because fail-fast must stop sibling steps that come
 * earlier in the order. `on_failure` steps come last, so they see every other step settled.
 * Semantics: ../workflow/README.md.
 */

import { compareHlc, hlcWall } from '../../../protocols/state/hlc.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import { isTerminalPhase, type StepEntry, type StepError } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { isTruthy } from '../workflow/expression-evaluate.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import {
  attemptInSeries,
  deadlineOf,
  inFlight,
  mapInvalidError,
  mapItemError,
  mayRetry,
  notAListError,
  notStarted,
  retryDelay,
  startedAt,
  timeoutError,
} from './attempts.js'
import {
  CHILD_FAILED_ERROR_TYPE,
  DEFAULT_MAX_MAP_ITEMS,
  DEFAULT_RUN_CONCURRENCY,
  RUN_TIMEOUT_ERROR_TYPE,
} from './constants.js'
import { jobIdOf } from './jobs.js'
import { childEntries, childIds } from './map-steps.js'
import { BlobNotLoaded, ScopeEnvironments, type StepFacts } from './scopes.js'
import { FAILURE_TOLERANT_RULES, triggerRuleVerdict } from './trigger-rules.js'
import type {
  CancelReason,
  DispatchAction,
  PlanAction,
  PlanLimits,
  RunContext,
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
const FINISH_EVENTS = ['workflow_completed', 'workflow_failed', 'workflow_cancelled']
/** `fatalCause` of a run that failed by its own timeout. */
const RUN_TIMEOUT_CAUSE = -2

export interface EvaluationOptions extends PlanLimits {
  /** When true no action is recorded (reports only). */
  readonly observe?: boolean
}

/** A `for_each` step that started: its children, as found in the first sweep. */
interface MapProgress {
  readonly items: number
  readonly ids: readonly string[]
  readonly entries: readonly (StepEntry | undefined)[]
  readonly status: StepStatus[]
  readonly expired: Uint8Array
  readonly final: Uint8Array
  failures: number
  firstFailure: number
  /** Children not finished (not succeeded, and not failed for good). */
  open: number
  inflight: number
}

/** What a decision is about: a step, or one child of a `for_each` step. */
interface Target {
  readonly step: CompiledStep
  readonly id: string
  readonly item: number | undefined
  setStatus(status: StepStatus): void
}

export class RunEvaluation implements StepFacts {
  readonly actions: PlanAction[] = []
  readonly status: StepStatus[]
  readonly error: (StepError | undefined)[]
  readonly reason: (string | undefined)[]
  readonly retryAt: (number | undefined)[]
  readonly entries: (StepEntry | undefined)[]
  readonly needBlobs = new Set<string>()
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
  readonly #maxMapItems: number
  readonly #observe: boolean
  readonly #redispatch: boolean
  readonly #output: JsonValue[]
  #budget: number
  #inflight = 0
  #started = false
  #timedOut = false
  #mainDone: boolean | undefined
  readonly #expired: Uint8Array
  readonly #finalFailed: Uint8Array
  /** `fatal[scope + 1]`: the scope (−1 = top level) has a failure that is not continued on. */
  readonly #fatal: Uint8Array
  readonly #fatalCause: Int32Array
  readonly #compositeFailed: Uint8Array
  readonly #maps = new Map<number, MapProgress>()
  readonly #lists = new Map<number, readonly JsonValue[]>()
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
    this.#maxMapItems = options.maxMapItems ?? DEFAULT_MAX_MAP_ITEMS
    this.#observe = options.observe === true
    this.#redispatch = options.redispatchInFlight === true && !this.#observe
    this.#budget = this.#observe ? 0 : (options.maxDispatch ?? Number.POSITIVE_INFINITY)
    const n = this.#steps.length
    this.status = new Array<StepStatus>(n).fill('pending')
    this.#output = new Array<JsonValue>(n).fill(null)
    this.error = new Array<StepError | undefined>(n)
    this.reason = new Array<string | undefined>(n)
    this.retryAt = new Array<number | undefined>(n)
    this.entries = this.#steps.map((step) => state.step(step.id))
    this.#expired = new Uint8Array(n)
    this.#finalFailed = new Uint8Array(n)
    this.#fatal = new Uint8Array(n + 1)
    this.#fatalCause = new Int32Array(n + 1).fill(-1)
    this.#compositeFailed = new Uint8Array(n)
    this.#envs = new ScopeEnvironments(workflow, state.meta?.inputs ?? {}, this, options.blobs)
  }

  run(): this {
    this.#findFailures()
    this.#root =
      this.#state.cancelled !== undefined
        ? { kind: 'abort', reason: 'run_cancelled' }
        : this.#timedOut
          ? { kind: 'abort', reason: 'run_timeout' }
          : this.#fatal[0] === 1
            ? { kind: 'abort', reason: 'run_failed' }
            : OPEN
    for (const step of this.#steps) this.#decide(step)
    this.#finish()
    return this
  }

  // --- StepFacts ------------------------------------------------------------------------------

  outputOf(index: number): JsonValue {
    const step = this.#steps[index] as CompiledStep
    const entry = this.entries[index]
    // A for_each step that started has no stored output: it is its children's results.
    if (step.forEach === undefined || entry?.items === undefined) return this.#output[index] as JsonValue
    return mapOutput(this.#state, step, entry)
  }

  runContext(): RunContext {
    const failure = this.#failing ? this.#failureRecord() : undefined
    return {
      id: this.#state.run,
      workflow: this.#wf.name,
      error:
        failure === undefined
          ? null
          : {
              step: failure.step ?? null,
              type: failure.error.type ?? 'Error',
              message: failure.error.message,
            },
    }
  }

  /** The children of a `for_each` step by status, once it started (for reports). */
  mapProgress(index: number): readonly StepStatus[] | undefined {
    return this.#maps.get(index)?.status
  }

  // --- first sweep: timeouts and failures that are final -------------------------------------

  #findFailures(): void {
    let mainUnfinished = false
    let timeoutMarked = false
    for (const step of this.#steps) {
      const i = step.index
      const entry = this.entries[i]
      if (!step.onFailure && (entry === undefined || !isTerminalPhase(entry.phase))) mainUnfinished = true
      if (entry === undefined) continue
      if (entry.phase === 'cancelled' && entry.reason === 'run_timeout') timeoutMarked = true
      if (step.forEach !== undefined && entry.phase === 'running') {
        this.#scanMap(step, entry)
        continue
      }
      if (inFlight(entry) && (step.kind === 'job' || step.kind === 'signal')) {
        const deadline = deadlineOf(step, entry)
        const signalled = step.kind === 'signal' && this.#state.signal(step.signal as string) !== undefined
        if (deadline !== undefined && this.#now >= deadline && !signalled) this.#expired[i] = 1
        else if (step.kind === 'job') this.#inflight++
      }
      // Retries apply to a for_each step's children: its own failure is final.
      const final =
        (entry.phase === 'failed' && (step.forEach !== undefined || !mayRetry(step, entry, entry.error))) ||
        (this.#expired[i] === 1 && !mayRetry(step, entry))
      if (final) this.#failFinally(step)
    }
    // A workflow step comes after all its children, and an inner one before an outer one.
    for (const step of this.#steps) {
      if (step.kind !== 'workflow' || this.#fatal[step.index + 1] !== 1) continue
      const entry = this.entries[step.index]
      if (entry !== undefined && isTerminalPhase(entry.phase)) continue
      this.#compositeFailed[step.index] = 1
      this.#failFinally(step)
    }
    this.#checkRunTimeout(mainUnfinished, timeoutMarked)
  }

  #failFinally(step: CompiledStep): void {
    this.#finalFailed[step.index] = 1
    // An on_failure step's failure cannot fail the run again: it already failed.
    if (!step.continueOnFailure && !step.onFailure) this.#markFatal(step.scope, step.index)
  }

  #scanMap(step: CompiledStep, entry: StepEntry): void {
    const items = entry.items ?? 0
    const p: MapProgress = {
      items,
      ids: childIds(step, items),
      entries: childEntries(this.#state, step, items),
      status: new Array<StepStatus>(items).fill('pending'),
      expired: new Uint8Array(items),
      final: new Uint8Array(items),
      failures: 0,
      firstFailure: -1,
      open: 0,
      inflight: 0,
    }
    for (let i = 0; i < items; i++) {
      const child = p.entries[i]
      if (child?.phase === 'succeeded') continue
      if (child !== undefined && inFlight(child)) {
        const deadline = deadlineOf(step, child)
        if (deadline !== undefined && this.#now >= deadline) p.expired[i] = 1
        else {
          p.inflight++
          this.#inflight++
        }
      }
      const final =
        child !== undefined &&
        ((child.phase === 'failed' && !mayRetry(step, child, child.error)) ||
          child.phase === 'cancelled' ||
          child.phase === 'skipped' ||
          (p.expired[i] === 1 && !mayRetry(step, child)))
      if (!final) {
        p.open++
        continue
      }
      p.final[i] = 1
      p.failures++
      if (p.firstFailure === -1) p.firstFailure = i
    }
    this.#maps.set(step.index, p)
    // Fail-fast at the first child that failed for good; with continue_on_failure, once all are done.
    if (p.failures > 0 && (p.open === 0 || !step.continueOnFailure)) this.#failFinally(step)
  }

  #checkRunTimeout(mainUnfinished: boolean, timeoutMarked: boolean): void {
    const timeout = this.#wf.timeoutMs
    if (timeout === undefined) return
    const deadline = this.#epochStart() + timeout
    if (timeoutMarked || (mainUnfinished && this.#now >= deadline)) {
      this.#timedOut = true
      if (this.#fatalCause[0] === -1) this.#fatalCause[0] = RUN_TIMEOUT_CAUSE
    } else if (mainUnfinished) this.#wake(deadline)
  }

  #epochStart(): number {
    const stamp = this.#state.rerun?.hlc ?? this.#state.meta?.hlc
    return stamp === undefined ? this.#now : hlcWall(stamp)
  }

  #markFatal(scope: number, cause: number): void {
    this.#fatal[scope + 1] = 1
    if (this.#fatalCause[scope + 1] === -1) this.#fatalCause[scope + 1] = cause
  }

  get #failing(): boolean {
    return this.#state.cancelled === undefined && (this.#fatal[0] === 1 || this.#timedOut)
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

  /** Fail-fast spares steps that are meant to run after a failure. */
  #exempt(step: CompiledStep, reason: CancelReason): boolean {
    if (reason === 'run_cancelled') return false
    if (step.onFailure) return true
    return reason !== 'run_timeout' && FAILURE_TOLERANT_RULES.has(step.triggerRule)
  }

  /** Trigger rule and `when` of a step not yet started: wait, skip, or `undefined` to go ahead. */
  #gate(step: CompiledStep): ScopeVerdict | undefined {
    let succeeded = 0
    let failed = 0
    let skipped = 0
    let unfinished = 0
    for (const d of step.deps) {
      const status = this.status[d] as StepStatus
      if (!TERMINAL_STATUSES.has(status)) unfinished++
      else if (status === 'succeeded') succeeded++
      else if (status === 'failed' || status === 'cancelled') failed++
      else if (this.reason[d] === 'upstream_failed' || this.reason[d] === 'parent_skipped') failed++
      else skipped++
    }
    const total = step.deps.length
    const verdict = triggerRuleVerdict(step.triggerRule, { total, succeeded, failed, skipped, unfinished })
    if (verdict === 'wait') return WAIT
    if (verdict === 'skip') return { kind: 'skip', reason: 'trigger_rule' }
    if (verdict === 'upstream_failed') return { kind: 'skip', reason: 'upstream_failed' }
    if (step.when === undefined) return undefined
    const when = this.#tryEvaluate(() =>
      this.#envs.evaluate(step.when as NonNullable<typeof step.when>, step.scope),
    )
    if (when === BLOCKED) return WAIT
    return isTruthy(when) ? undefined : { kind: 'skip', reason: 'condition' }
  }

  /** Runs an evaluation that may need a blob not loaded yet; BLOCKED (and the digest noted) if so. */
  #tryEvaluate<T>(evaluate: () => T): T | typeof BLOCKED {
    try {
      return evaluate()
    } catch (err) {
      if (!(err instanceof BlobNotLoaded)) throw err
      this.needBlobs.add(err.digest)
      return BLOCKED
    }
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
      // The step is the failure (a last attempt timed out, a child failed): record it as such,
      // even though it is what aborts its scope.
      if (step.kind === 'workflow') this.#failWorkflowStep(step, entry)
      else if (step.forEach !== undefined) this.#failMap(step, entry as StepEntry)
      else this.#decideInFlight(this.#target(step), entry as StepEntry, this.#expired[i] === 1)
      return
    }
    const scope = this.#verdict(step.scope)
    if (scope.kind === 'abort' && !this.#exempt(step, scope.reason)) this.#cancel(step, entry, scope.reason)
    else if (scope.kind === 'skip' && inFlight(entry)) this.#cancel(step, entry, 'parent_failed')
    else if (scope.kind === 'skip') this.#skip(step, entry, 'parent_skipped')
    else if (scope.kind === 'wait') this.status[i] = 'pending'
    else if (step.onFailure && !this.#handlerMayStart(step, entry)) return
    else if (step.kind === 'workflow') this.#decideWorkflowStep(step)
    else if (step.kind === 'sleep') this.#decideSleep(step, entry)
    else if (step.kind === 'signal') this.#decideSignal(step, entry)
    else if (step.forEach !== undefined) this.#decideMap(step, entry)
    else this.#decideJob(this.#target(step), entry)
  }

  /** `on_failure` steps start once the run failed and every other step finished. */
  #handlerMayStart(step: CompiledStep, entry: StepEntry | undefined): boolean {
    if (!inFlight(entry) && !(entry?.phase === 'retrying' || entry?.phase === 'failed')) {
      this.#mainDone ??= this.#steps.every(
        (s) => s.onFailure || TERMINAL_STATUSES.has(this.status[s.index] as StepStatus),
      )
      if (!this.#failing) {
        if (this.#mainDone) this.#skip(step, entry, 'run_succeeded')
        return false
      }
      if (!this.#mainDone) return false
    }
    return true
  }

  #decideJob(target: Target, entry: StepEntry | undefined): void {
    if (notStarted(entry)) {
      const gate = this.#gate(target.step)
      if (gate === undefined) this.#dispatch(target, entry?.attempt ?? 1)
      else if (gate.kind === 'skip') this.#skip(target.step, entry, gate.reason)
      return
    }
    const current = entry as StepEntry
    // A child's timeout is handled by the map step before it gets here.
    const expired = target.item === undefined && this.#expired[target.step.index] === 1
    if (inFlight(current)) this.#decideInFlight(target, current, expired)
    else if (current.phase === 'failed')
      this.#retry(target, current, current.finishedAt ?? hlcWall(current.hlc), current.error as StepError)
    else {
      if (target.item === undefined) this.error[target.step.index] = current.error
      this.#awaitRetry(target, current.attempt, current.retryAt ?? 0)
    }
  }

  /** An attempt in flight: wait for it, or (`expired`) record its timeout and retry or fail. */
  #decideInFlight(target: Target, entry: StepEntry, expired: boolean): void {
    const step = target.step
    if (!expired) {
      target.setStatus(entry.phase as StepStatus)
      this.#wake(deadlineOf(step, entry))
      if (this.#redispatch && step.kind === 'job') this.#redispatchJob(target, entry.attempt)
      return
    }
    const error = timeoutError(step, entry.attempt)
    const willRetry = mayRetry(step, entry)
    const jobId = step.kind === 'job' ? jobIdOf(this.#state.run, target.id, entry.attempt) : undefined
    this.#emit({ type: 'timeout', step: target.id, attempt: entry.attempt, jobId, error, willRetry })
    if (willRetry) this.#retry(target, entry, this.#now, error)
    else {
      target.setStatus('failed')
      if (target.item === undefined) this.error[step.index] = error
    }
  }

  #settle(i: number, entry: StepEntry): void {
    this.status[i] = entry.phase as StepStatus
    if (entry.phase === 'succeeded') this.#output[i] = entry.result ?? null
    this.error[i] = entry.error
    this.reason[i] = entry.reason
  }

  #failWorkflowStep(step: CompiledStep, entry: StepEntry | undefined): void {
    const cause = this.#steps[this.#fatalCause[step.index + 1] as number] as CompiledStep
    const causeError = this.error[cause.index] ?? this.entries[cause.index]?.error
    const error: StepError = {
      type: CHILD_FAILED_ERROR_TYPE,
      message: `step "${cause.localId}" of workflow "${step.workflowName}" failed: ${causeError?.message ?? 'unknown error'}`,
    }
    this.#emit({ type: 'fail', step: step.id, attempt: entry?.attempt ?? 1, error })
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
    const outputs = this.#tryEvaluate(() =>
      Object.fromEntries([...step.outputs].map(([name, expr]) => [name, this.#envs.evaluate(expr, i)])),
    )
    if (outputs === BLOCKED) {
      this.status[i] = 'running'
      return
    }
    this.#complete(step, this.entries[i], outputs, `step "${step.id}" succeeded`)
  }

  // --- sleep and signal steps -----------------------------------------------------------------

  #decideSleep(step: CompiledStep, entry: StepEntry | undefined): void {
    const ms = step.sleepMs as number
    if (notStarted(entry)) {
      if (!this.#mayStart(step, entry)) return
      this.#start(step, entry, undefined, `step "${step.id}" sleeps ${ms} ms`)
      this.#wake(this.#now + ms)
      return
    }
    const until = startedAt(entry as StepEntry) + ms
    if (this.#now >= until) this.#complete(step, entry, null, `step "${step.id}" woke up after ${ms} ms`)
    else {
      this.status[step.index] = 'running'
      this.#wake(until)
    }
  }

  #decideSignal(step: CompiledStep, entry: StepEntry | undefined): void {
    const received = this.#state.signal(step.signal as string)
    if (notStarted(entry)) {
      if (!this.#mayStart(step, entry)) return
      if (received !== undefined) {
        this.#complete(step, entry, received.data, `step "${step.id}" got signal "${step.signal}"`)
        return
      }
      this.#start(step, entry, undefined, `step "${step.id}" waits for signal "${step.signal}"`)
      if (step.timeoutMs !== undefined) this.#wake(this.#now + step.timeoutMs)
      return
    }
    if (received !== undefined) {
      this.#complete(step, entry, received.data, `step "${step.id}" got signal "${step.signal}"`)
      return
    }
    this.#decideInFlight(this.#target(step), entry as StepEntry, false)
  }

  /** Gate, then the pause: true when the step may start now. */
  #mayStart(step: CompiledStep, entry: StepEntry | undefined): boolean {
    const gate = this.#gate(step)
    if (gate !== undefined) {
      if (gate.kind === 'skip') this.#skip(step, entry, gate.reason)
      return false
    }
    if (this.#state.paused) {
      this.status[step.index] = 'ready'
      return false
    }
    return true
  }

  // --- for_each steps -------------------------------------------------------------------------

  /** The list a map step maps over; BLOCKED when it needs a blob, or the error that fails the step. */
  #mapList(step: CompiledStep): readonly JsonValue[] | typeof BLOCKED | StepError {
    const known = this.#lists.get(step.index)
    if (known !== undefined) return known
    const value = this.#tryEvaluate(() =>
      this.#envs.resolve(this.#envs.evaluate(step.forEach as NonNullable<typeof step.forEach>, step.scope)),
    )
    if (value === BLOCKED) return BLOCKED
    if (!Array.isArray(value)) return notAListError(value)
    if (value.length > this.#maxMapItems)
      return mapInvalidError(`${value.length} items, at most ${this.#maxMapItems} allowed`)
    this.#lists.set(step.index, value)
    return value
  }

  #decideMap(step: CompiledStep, entry: StepEntry | undefined): void {
    if (notStarted(entry)) {
      const gate = this.#gate(step)
      if (gate !== undefined) {
        if (gate.kind === 'skip') this.#skip(step, entry, gate.reason)
        return
      }
      const list = this.#mapList(step)
      if (list === BLOCKED) return
      if (!Array.isArray(list)) {
        this.#emit({ type: 'fail', step: step.id, attempt: entry?.attempt ?? 1, error: list as StepError })
        this.#setFailed(step.index, list as StepError)
        return
      }
      if (list.length === 0) {
        this.#complete(step, entry, [], `step "${step.id}" succeeded (no items)`)
        return
      }
      if (this.#state.paused) {
        this.status[step.index] = 'ready'
        return
      }
      this.#start(step, entry, list.length, `step "${step.id}" maps over ${list.length} items`)
      // Children that a rerun kept (succeeded ones) count from the start.
      const started = { ...(entry ?? { attempt: 1, phase: 'running', hlc: '' }), items: list.length }
      this.#scanMap(step, started as StepEntry)
    }
    const p = this.#maps.get(step.index) as MapProgress
    this.status[step.index] = 'running'
    let succeeded = 0
    for (let i = 0; i < p.items; i++) {
      const child = p.entries[i]
      const target = this.#childTarget(step, p, i)
      if (child?.phase === 'succeeded') {
        p.status[i] = 'succeeded'
        succeeded++
      } else if (p.expired[i] === 1) this.#decideInFlight(target, child as StepEntry, true)
      else if (p.final[i] === 1) p.status[i] = child?.phase === 'cancelled' ? 'cancelled' : 'failed'
      else if (notStarted(child)) this.#dispatchChild(target, p, child?.attempt ?? 1)
      else this.#decideJob(target, child)
    }
    if (succeeded === p.items)
      this.#complete(
        step,
        this.entries[step.index],
        undefined,
        `step "${step.id}" succeeded (${p.items} items)`,
      )
  }

  #dispatchChild(target: Target, p: MapProgress, attempt: number): void {
    if (target.step.maxParallel !== undefined && p.inflight >= target.step.maxParallel) {
      target.setStatus('pending')
      return
    }
    if (this.#dispatch(target, attempt)) p.inflight++
  }

  /** A child failed for good: the step fails, and its children still under way are cancelled. */
  #failMap(step: CompiledStep, entry: StepEntry): void {
    const p = this.#maps.get(step.index) as MapProgress
    for (let i = 0; i < p.items; i++) {
      const child = p.entries[i]
      if (notStarted(child)) continue
      const current = child as StepEntry
      if (isTerminalPhase(current.phase)) {
        p.status[i] = current.phase as StepStatus
        continue
      }
      const id = p.ids[i] as string
      const jobId = inFlight(current) ? jobIdOf(this.#state.run, id, current.attempt) : undefined
      if (p.expired[i] === 1) {
        // This attempt is (one of) the failure: record its timeout rather than a cancellation.
        const error = timeoutError(step, current.attempt)
        this.#emit({ type: 'timeout', step: id, attempt: current.attempt, jobId, error, willRetry: false })
        p.status[i] = 'failed'
        continue
      }
      this.#emit({ type: 'cancel', step: id, attempt: current.attempt, reason: 'parent_failed', jobId })
      p.status[i] = 'cancelled'
    }
    const first = p.firstFailure
    const firstEntry = p.entries[first]
    const error = mapItemError(step, p.items, p.failures, {
      index: first,
      error:
        firstEntry?.error ?? (firstEntry === undefined ? undefined : timeoutError(step, firstEntry.attempt)),
    })
    this.#emit({ type: 'fail', step: step.id, attempt: entry.attempt, error })
    this.#setFailed(step.index, error)
  }

  // --- shared moves ---------------------------------------------------------------------------

  #target(step: CompiledStep): Target {
    return {
      step,
      id: step.id,
      item: undefined,
      setStatus: (status) => {
        this.status[step.index] = status
      },
    }
  }

  #childTarget(step: CompiledStep, p: MapProgress, index: number): Target {
    return {
      step,
      id: p.ids[index] as string,
      item: index,
      setStatus: (status) => {
        p.status[index] = status
      },
    }
  }

  #setFailed(i: number, error: StepError): void {
    this.status[i] = 'failed'
    this.error[i] = error
  }

  #start(step: CompiledStep, entry: StepEntry | undefined, items: number | undefined, message: string): void {
    this.#emit({ type: 'start', step: step.id, attempt: entry?.attempt ?? 1, items, message })
    this.#started = true
    this.status[step.index] = 'running'
  }

  #complete(
    step: CompiledStep,
    entry: StepEntry | undefined,
    output: JsonValue | undefined,
    message: string,
  ): void {
    this.#emit({ type: 'complete', step: step.id, attempt: entry?.attempt ?? 1, output, message })
    this.status[step.index] = 'succeeded'
    if (output !== undefined) this.#output[step.index] = output
  }

  #skip(step: CompiledStep, entry: StepEntry | undefined, reason: SkipReason): void {
    this.#emit({ type: 'skip', step: step.id, attempt: entry?.attempt ?? 1, reason })
    this.status[step.index] = 'skipped'
    this.reason[step.index] = reason
  }

  #cancel(step: CompiledStep, entry: StepEntry | undefined, reason: CancelReason): void {
    const attempt = entry?.attempt ?? 1
    const hasJob = step.kind === 'job' && step.forEach === undefined && inFlight(entry)
    const jobId = hasJob ? jobIdOf(this.#state.run, step.id, attempt) : undefined
    this.#emit({ type: 'cancel', step: step.id, attempt, reason, jobId })
    this.status[step.index] = 'cancelled'
    this.reason[step.index] = reason
    const p = this.#maps.get(step.index)
    if (p === undefined) return
    for (let i = 0; i < p.items; i++) {
      const child = p.entries[i]
      if (child === undefined || isTerminalPhase(child.phase) || child.phase === 'pending') continue
      const id = p.ids[i] as string
      const childJob = inFlight(child) ? jobIdOf(this.#state.run, id, child.attempt) : undefined
      this.#emit({ type: 'cancel', step: id, attempt: child.attempt, reason, jobId: childJob })
    }
  }

  #retry(target: Target, failed: StepEntry, failedAt: number, error: StepError): void {
    const retryAt = failedAt + retryDelay(target.step, failed, this.#random)
    this.#emit({ type: 'retry', step: target.id, attempt: failed.attempt + 1, retryAt, error })
    if (target.item === undefined) this.error[target.step.index] = error
    this.#awaitRetry(target, failed.attempt + 1, retryAt)
  }

  #awaitRetry(target: Target, attempt: number, retryAt: number): void {
    if (target.item === undefined) this.retryAt[target.step.index] = retryAt
    if (this.#now >= retryAt) {
      if (target.item === undefined) this.#dispatch(target, attempt)
      else this.#dispatchChild(target, this.#maps.get(target.step.index) as MapProgress, attempt)
      return
    }
    target.setStatus('retrying')
    this.#wake(retryAt)
  }

  /** Dispatches the target's job if a slot is free; returns whether it did. */
  #dispatch(target: Target, attempt: number): boolean {
    if (this.#state.paused || this.#budget <= 0 || this.#inflight >= this.#maxConcurrency) {
      target.setStatus('ready')
      return false
    }
    const action = this.#tryEvaluate(() => this.#dispatchAction(target, attempt))
    if (action === BLOCKED) {
      target.setStatus('pending')
      return false
    }
    this.#emit(action)
    this.#budget--
    this.#inflight++
    this.#started = true
    target.setStatus('dispatched')
    if (target.step.timeoutMs !== undefined) this.#wake(this.#now + target.step.timeoutMs)
    return true
  }

  #redispatchJob(target: Target, attempt: number): void {
    const action = this.#tryEvaluate(() => this.#dispatchAction(target, attempt))
    if (action !== BLOCKED) this.#emit(action)
  }

  /** The job of an attempt; throws `BlobNotLoaded` when its env reads a blob not at hand. */
  #dispatchAction(target: Target, attempt: number): DispatchAction {
    const step = target.step
    const input: JsonObject = {}
    let scope = this.#envs.scope(step.scope)
    if (target.item === undefined) {
      for (const d of step.deps) {
        const dep = this.#steps[d] as CompiledStep
        input[dep.localId] = this.status[d] === 'succeeded' ? this.outputOf(d) : null
      }
    } else {
      // A child gets its element, not its step's dependencies (that would copy the list N times);
      // what else it needs comes through `env`.
      const list = this.#mapList(step)
      const item = Array.isArray(list) ? ((list[target.item] as JsonValue | undefined) ?? null) : null
      input.item = item
      input.index = target.item
      scope = this.#envs.withItem(step.scope, item, target.item)
    }
    const env: Record<string, string> = {}
    for (const [name, expression] of step.env) {
      const value = this.#envs.evaluate(expression, scope)
      if (value !== null) env[name] = typeof value === 'string' ? value : JSON.stringify(value)
    }
    return {
      type: 'dispatch',
      step: target.id,
      attempt,
      jobId: jobIdOf(this.#state.run, target.id, attempt),
      runner: step.runner as string,
      payload: step.payload,
      input,
      timeoutMs: step.timeoutMs,
      env,
      context: { inputs: this.#envs.inputs(step.scope), run: this.runContext() },
    }
  }

  #wake(at: number | undefined): void {
    if (at !== undefined && at > this.#now && (this.wakeAt === undefined || at < this.wakeAt))
      this.wakeAt = at
  }

  #emit(action: PlanAction): void {
    if (!this.#observe) this.actions.push(action)
  }

  // --- the run as a whole ---------------------------------------------------------------------

  #failureRecord(): RunFailure {
    const cause = this.#fatalCause[0] as number
    if (cause === RUN_TIMEOUT_CAUSE || cause === -1) {
      const ms = this.#wf.timeoutMs ?? 0
      return { error: { type: RUN_TIMEOUT_ERROR_TYPE, message: `the run did not finish within ${ms} ms` } }
    }
    const step = this.#steps[cause] as CompiledStep
    const error = this.error[cause] ?? this.entries[cause]?.error ?? { message: 'failed' }
    return { step: step.id, error }
  }

  #finish(): void {
    const allTerminal = this.status.every((status) => TERMINAL_STATUSES.has(status))
    const paused = this.#state.paused
    if (this.#state.cancelled !== undefined) this.runStatus = 'cancelled'
    else if (this.#failing) {
      this.failure = this.#failureRecord()
      this.runStatus = allTerminal ? 'failed' : paused ? 'paused' : 'running'
    } else if (allTerminal) {
      const outputs = this.#tryEvaluate(() =>
        Object.fromEntries(
          [...this.#wf.outputs].map(([name, expr]) => [name, this.#envs.evaluate(expr, -1)]),
        ),
      )
      if (outputs === BLOCKED) this.runStatus = 'running'
      else {
        this.runStatus = 'completed'
        this.outputs = outputs
      }
    } else if (paused) this.runStatus = 'paused'
    else if (this.#state.stepCount === 0 && !this.#started) this.runStatus = 'pending'
    else this.runStatus = 'running'

    const status = this.runStatus
    if (status !== 'completed' && status !== 'failed' && status !== 'cancelled') return
    this.wakeAt = undefined
    const since = this.#state.rerun?.hlc
    const logged = FINISH_EVENTS.some((type) => {
      const last = this.#state.lastEvent(type)
      return last !== undefined && (since === undefined || compareHlc(last, since) > 0)
    })
    if (allTerminal && !logged)
      this.#emit({ type: 'finish', status, outputs: this.outputs, error: this.failure })
  }
}

const BLOCKED: unique symbol = Symbol('blocked')

/** A map step's output: its children's results, in order (cached once the step succeeded). */
const mapOutputs = new WeakMap<StepEntry, JsonValue[]>()

export function mapOutput(state: RunState, step: CompiledStep, entry: StepEntry): JsonValue[] {
  const known = mapOutputs.get(entry)
  if (known !== undefined) return known
  const items = entry.items ?? 0
  const out = childEntries(state, step, items).map((child) =>
    child?.phase === 'succeeded' ? (child.result ?? null) : null,
  )
  if (entry.phase === 'succeeded') mapOutputs.set(entry, out)
  return out
}

export { attemptInSeries }
