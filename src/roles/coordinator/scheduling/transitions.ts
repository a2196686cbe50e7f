/**
 * Writing to a run's state: creating it, committing plan actions, and recording what supervisors
 * report about jobs. Each function changes the local state and returns the delta to gossip and
 * persist; each transition also appends its monitor event to the run's grow-only log, under the
 * same stamp, so logs and state can never disagree.
 */

import { type BlobRef, containsBlobRef } from '../../../protocols/blob/ref.js'
import { hlcWall } from '../../../protocols/state/hlc.js'
import {
  isPlainObject,
  type JsonObject,
  type JsonValue,
  jsonValueProblem,
} from '../../../protocols/state/json-value.js'
import {
  isTerminalPhase,
  type LogEntry,
  type LogSeverity,
  type StepEntry,
  type StepError,
} from '../../../protocols/state/lattice.js'
import { RunState } from '../../../protocols/state/run-state.js'
import { resolveRunInputs } from '../workflow/inputs.js'
import type { CompiledWorkflow } from '../workflow/types.js'
import { mayRetry } from './attempts.js'
import { INVALID_RESULT_ERROR_TYPE, MAX_MESSAGE_LENGTH, MAX_RESULT_DEPTH } from './constants.js'
import { UnknownStepError } from './errors.js'
import { resolveStep } from './map-steps.js'
import type { PlanAction } from './types.js'

export interface CreateRunOptions {
  readonly run: string
  /** Creation stamp (`hlc.now()`); the earliest creation of a run id wins. */
  readonly stamp: string
  /** Checked against the workflow's declared inputs; defaults applied. */
  readonly inputs?: unknown
  /** The workflow document as submitted (what the submission digests). @default workflow.source */
  readonly document?: JsonValue
  /** The run's signed authority (`JobAuthority`), carried by every step job. */
  readonly authority?: JsonObject
  /** Sealed secrets by name, kept in the run's meta (checked by the caller). */
  readonly secrets?: JsonObject
}

/** A new run's state (it is also the first delta to gossip). Throws `WorkflowInputError`. */
export function createRun(workflow: CompiledWorkflow, options: CreateRunOptions): RunState {
  const inputs = resolveRunInputs(workflow, options.inputs ?? {})
  const state = RunState.create({
    run: options.run,
    hlc: options.stamp,
    workflow: options.document ?? (workflow.source as unknown as JsonValue),
    inputs,
    ...(options.authority === undefined ? {} : { authority: options.authority }),
    ...(options.authority === undefined || !isPlainObject(options.inputs)
      ? {}
      : { submittedInputs: JSON.parse(JSON.stringify(options.inputs)) as JsonObject }),
    ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
  })
  state.appendLog(
    event(options.stamp, 'workflow_started', 'info', `workflow "${workflow.name}" started`, undefined, {
      inputs,
    }),
  )
  return state
}

function event(
  hlc: string,
  type: string,
  severity: LogSeverity,
  message: string,
  step?: { readonly step: string; readonly attempt?: number },
  data?: JsonValue,
): LogEntry {
  const entry: { -readonly [K in keyof LogEntry]: LogEntry[K] } = {
    hlc,
    kind: 'event',
    type,
    severity,
    message,
  }
  if (step !== undefined) {
    entry.step = step.step
    if (step.attempt !== undefined) entry.attempt = step.attempt
  }
  if (data !== undefined) entry.data = data
  return entry
}

type MutableEntry = { -readonly [K in keyof StepEntry]: StepEntry[K] }

/**
 * A new entry for `attempt`, carrying the timings of the same attempt (and the first dispatch),
 * the series it belongs to (`base`, set by a rerun) and a for_each step's item count.
 */
function entryFrom(
  previous: StepEntry | undefined,
  attempt: number,
  phase: StepEntry['phase'],
  hlc: string,
): MutableEntry {
  const entry: MutableEntry = { attempt, phase, hlc }
  if (previous?.firstDispatchedAt !== undefined) entry.firstDispatchedAt = previous.firstDispatchedAt
  if (previous?.base !== undefined) entry.base = previous.base
  if (previous !== undefined && previous.attempt === attempt) {
    if (previous.dispatchedAt !== undefined) entry.dispatchedAt = previous.dispatchedAt
    if (previous.startedAt !== undefined) entry.startedAt = previous.startedAt
    if (previous.items !== undefined) entry.items = previous.items
  }
  return entry
}

function write(state: RunState, step: string, entry: StepEntry, log: LogEntry): RunState {
  const delta = state.setStep(step, entry)
  delta.merge(state.appendLog(log))
  return delta
}

function errorData(error: StepError): JsonValue {
  return JSON.parse(JSON.stringify(error)) as JsonValue
}

/** Records one plan action; returns the delta. Commit actions in the order `plan` returned them. */
export function commitAction(state: RunState, action: PlanAction, stamp: string): RunState {
  const wall = hlcWall(stamp)
  if (action.type === 'finish') {
    const severity = action.status === 'completed' ? 'info' : action.status === 'failed' ? 'error' : 'warning'
    const data: JsonValue =
      action.status === 'completed'
        ? { outputs: action.outputs ?? {} }
        : action.error === undefined
          ? {}
          : action.error.step === undefined
            ? { error: errorData(action.error.error) }
            : { step: action.error.step, error: errorData(action.error.error) }
    const suffix =
      action.error === undefined
        ? ''
        : action.error.step === undefined
          ? `: ${action.error.error.message}`
          : `: step "${action.error.step}" failed: ${action.error.error.message}`
    return state.appendLog(
      event(
        stamp,
        `workflow_${action.status}`,
        severity,
        `workflow ${action.status}${suffix}`,
        undefined,
        data,
      ),
    )
  }
  const previous = state.step(action.step)
  switch (action.type) {
    case 'start': {
      const entry = entryFrom(previous, action.attempt, 'running', stamp)
      entry.dispatchedAt = wall
      entry.startedAt = wall
      entry.firstDispatchedAt ??= wall
      if (action.items !== undefined) entry.items = action.items
      const data: JsonValue = action.items === undefined ? {} : { items: action.items }
      return write(
        state,
        action.step,
        entry,
        event(stamp, 'step_started', 'info', action.message, action, data),
      )
    }
    case 'dispatch': {
      const entry = entryFrom(previous, action.attempt, 'dispatched', stamp)
      entry.dispatchedAt = wall
      entry.firstDispatchedAt ??= wall
      delete entry.startedAt
      const message = `step "${action.step}" dispatched (attempt ${action.attempt}, job ${action.jobId})`
      return write(
        state,
        action.step,
        entry,
        event(stamp, 'step_dispatched', 'info', message, action, {
          jobId: action.jobId,
          runner: action.runner,
        }),
      )
    }
    case 'retry': {
      const entry = entryFrom(previous, action.attempt, 'retrying', stamp)
      entry.retryAt = action.retryAt
      entry.error = action.error
      const message = `step "${action.step}" will retry (attempt ${action.attempt}) in ${Math.max(0, action.retryAt - wall)} ms after: ${action.error.message}`
      return write(
        state,
        action.step,
        entry,
        event(stamp, 'step_retrying', 'warning', message, action, {
          retryAt: action.retryAt,
          error: errorData(action.error),
        }),
      )
    }
    case 'timeout': {
      const entry = entryFrom(previous, action.attempt, 'failed', stamp)
      entry.error = action.error
      entry.finishedAt = wall
      const message = `step "${action.step}" ${action.error.message}`
      const data: JsonValue =
        action.jobId === undefined
          ? { error: errorData(action.error) }
          : { error: errorData(action.error), jobId: action.jobId }
      return write(
        state,
        action.step,
        entry,
        event(stamp, 'step_failed', action.willRetry ? 'warning' : 'error', message, action, data),
      )
    }
    case 'skip': {
      const entry = entryFrom(previous, action.attempt, 'skipped', stamp)
      entry.reason = action.reason
      entry.finishedAt = wall
      return write(
        state,
        action.step,
        entry,
        event(stamp, 'step_skipped', 'info', `step "${action.step}" skipped (${action.reason})`, action, {
          reason: action.reason,
        }),
      )
    }
    case 'cancel': {
      const entry = entryFrom(previous, action.attempt, 'cancelled', stamp)
      entry.reason = action.reason
      entry.finishedAt = wall
      const data: JsonValue =
        action.jobId === undefined
          ? { reason: action.reason }
          : { reason: action.reason, jobId: action.jobId }
      return write(
        state,
        action.step,
        entry,
        event(
          stamp,
          'step_cancelled',
          'warning',
          `step "${action.step}" cancelled (${action.reason})`,
          action,
          data,
        ),
      )
    }
    case 'complete': {
      const entry = entryFrom(previous, action.attempt, 'succeeded', stamp)
      if (action.output !== undefined) entry.result = action.output
      entry.finishedAt = wall
      return write(state, action.step, entry, event(stamp, 'step_succeeded', 'info', action.message, action))
    }
    case 'fail': {
      const entry = entryFrom(previous, action.attempt, 'failed', stamp)
      entry.error = action.error
      entry.finishedAt = wall
      return write(
        state,
        action.step,
        entry,
        event(
          stamp,
          'step_failed',
          'error',
          `step "${action.step}" failed: ${action.error.message}`,
          action,
          {
            error: errorData(action.error),
          },
        ),
      )
    }
  }
}

function truncate(text: string): string {
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…`
}

/** Job reports come from other nodes: keep only what every peer will accept when merging. */
function sanitizeError(error: StepError): StepError {
  const clean: { -readonly [K in keyof StepError]: StepError[K] } = {
    message: truncate(typeof error.message === 'string' ? error.message : String(error.message)),
  }
  if (typeof error.type === 'string') clean.type = error.type.slice(0, 256)
  if (error.nonRetryable === true) clean.nonRetryable = true
  if (error.data !== undefined && jsonValueProblem(error.data, MAX_RESULT_DEPTH) === undefined)
    clean.data = error.data
  return clean
}

/**
 * What a supervisor reports about a workflow step's job (`step` may be a `for_each` child,
 * `<step>[<index>]`). An output too large to travel inline arrives as `blob`: the coordinator
 * has fetched and verified it, and records the reference.
 */
export type JobUpdate =
  | { readonly type: 'started'; readonly step: string; readonly attempt: number }
  | {
      readonly type: 'succeeded'
      readonly step: string
      readonly attempt: number
      readonly result?: JsonValue
      readonly blob?: BlobRef
    }
  | { readonly type: 'failed'; readonly step: string; readonly attempt: number; readonly error: StepError }

const UPDATE_RANK = { started: 0, succeeded: 1, failed: 1 } as const
const PHASE_RANK: Readonly<Record<string, number>> = { retrying: -1, dispatched: -1, running: 0 }

/**
 * Records a job's progress or result. Returns `undefined` (and changes nothing) when the update is
 * stale: the step moved to a later attempt, or this attempt already ended (a late result of a
 * cancelled or timed-out attempt, or a duplicate delivery). Throws `UnknownStepError`.
 */
export function recordJobUpdate(
  workflow: CompiledWorkflow,
  state: RunState,
  update: JobUpdate,
  stamp: string,
): RunState | undefined {
  const resolved = resolveStep(workflow, update.step)
  const step = resolved?.step
  if (
    step === undefined ||
    step.kind !== 'job' ||
    (step.forEach !== undefined) !== (resolved?.item !== undefined)
  )
    throw new UnknownStepError(state.run, update.step)
  const previous = state.step(update.step)
  if (previous !== undefined) {
    if (previous.attempt > update.attempt) return undefined
    if (previous.attempt === update.attempt) {
      if (isTerminalPhase(previous.phase)) return undefined
      if ((PHASE_RANK[previous.phase] ?? -1) >= UPDATE_RANK[update.type]) return undefined
    }
  }
  const wall = hlcWall(stamp)
  const at = { step: update.step, attempt: update.attempt }
  if (update.type === 'started') {
    const entry = entryFrom(previous, update.attempt, 'running', stamp)
    entry.startedAt = wall
    return write(
      state,
      update.step,
      entry,
      event(stamp, 'step_started', 'info', `step "${update.step}" started (attempt ${update.attempt})`, at),
    )
  }
  const problem = update.type === 'succeeded' ? resultProblem(update) : undefined
  const error: StepError | undefined =
    update.type === 'failed'
      ? sanitizeError(update.error)
      : problem === undefined
        ? undefined
        : { type: INVALID_RESULT_ERROR_TYPE, message: `result rejected: ${problem}`, nonRetryable: true }
  const entry = entryFrom(previous, update.attempt, error === undefined ? 'succeeded' : 'failed', stamp)
  entry.finishedAt = wall
  if (error === undefined) {
    const success = update as Extract<JobUpdate, { type: 'succeeded' }>
    entry.result = (success.blob as JsonValue | undefined) ?? success.result ?? null
    return write(
      state,
      update.step,
      entry,
      event(
        stamp,
        'step_succeeded',
        'info',
        `step "${update.step}" succeeded (attempt ${update.attempt})`,
        at,
      ),
    )
  }
  entry.error = error
  const severity = mayRetry(step, entry, error) ? 'warning' : 'error'
  const message = `step "${update.step}" failed (attempt ${update.attempt}): ${error.message}`
  return write(
    state,
    update.step,
    entry,
    event(stamp, 'step_failed', severity, message, at, { error: errorData(error) }),
  )
}

/** Why a reported result cannot be recorded, if it cannot. */
function resultProblem(update: Extract<JobUpdate, { type: 'succeeded' }>): string | undefined {
  if (update.blob !== undefined) return undefined
  const problem = jsonValueProblem(update.result ?? null, MAX_RESULT_DEPTH)
  if (problem !== undefined) return problem
  // Only a coordinator writes blob references (after fetching and checking the bytes); one inside
  // a runner's output would make later steps fetch whatever the runner named.
  return containsBlobRef(update.result) ? 'the output contains a blob reference ({ "$blob": … })' : undefined
}

/** Cancels the run (absorbing within its epoch: only a rerun undoes it). */
export function cancelRun(state: RunState, stamp: string, reason?: string): RunState {
  const delta = state.cancel(stamp, reason)
  const message = reason === undefined ? 'cancel requested' : `cancel requested: ${reason}`
  delta.merge(state.appendLog(event(stamp, 'workflow_cancel_requested', 'warning', message)))
  return delta
}

/** Pauses (`true`) or resumes (`false`) dispatching new steps; steps in flight continue. */
export function setRunPaused(state: RunState, stamp: string, paused: boolean): RunState {
  const delta = state.setPaused(stamp, paused)
  const type = paused ? 'workflow_paused' : 'workflow_resumed'
  delta.merge(state.appendLog(event(stamp, type, 'info', paused ? 'workflow paused' : 'workflow resumed')))
  return delta
}

/** Appends a runner's output line (or any log line) to the run's log. */
export function appendStepLog(
  state: RunState,
  stamp: string,
  line: {
    readonly step: string
    readonly attempt?: number
    readonly stream?: string
    readonly message: string
    readonly severity?: LogSeverity
  },
): RunState {
  const entry: { -readonly [K in keyof LogEntry]: LogEntry[K] } = {
    hlc: stamp,
    kind: 'log',
    type: line.stream ?? 'log',
    severity: line.severity ?? 'info',
    message: truncate(line.message),
    step: line.step,
  }
  if (line.attempt !== undefined) entry.attempt = line.attempt
  return state.appendLog(entry)
}
