/** Statuses, actions and options of the scheduler. */

import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { StepError } from '../../../protocols/state/lattice.js'

export type RunStatus = 'pending' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled'

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled'])

/** The step states users see; `pending` and `ready` are derived, the rest are stored phases. */
export type StepStatus =
  | 'pending'
  | 'ready'
  | 'dispatched'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled'

/**
 * Why a step was skipped: its own `when` was false (`condition`), a dependency failed with
 * `continue_on_failure` or was itself skipped for that reason (`upstream_failed`), or the workflow
 * step it belongs to was skipped (`parent_skipped`).
 */
export type SkipReason = 'condition' | 'upstream_failed' | 'parent_skipped'

/** Why a step was cancelled: the run was cancelled, the run failed, or its workflow step failed. */
export type CancelReason = 'run_cancelled' | 'run_failed' | 'parent_failed'

/** Send a job for this attempt (deterministic `jobId`, so a duplicate dispatch is recognised). */
export interface DispatchAction {
  readonly type: 'dispatch'
  readonly step: string
  readonly attempt: number
  readonly jobId: string
  readonly runner: string
  readonly payload: JsonValue
  /** Outputs of the step's dependencies by local step id (`null` for a skipped one). */
  readonly input: JsonObject
  readonly timeoutMs: number | undefined
}

/** Record that attempt `attempt` (the next one) waits until `retryAt` after `error`. */
export interface RetryAction {
  readonly type: 'retry'
  readonly step: string
  readonly attempt: number
  readonly retryAt: number
  readonly error: StepError
}

/** The attempt ran past its timeout: record it failed and cancel the job. */
export interface TimeoutAction {
  readonly type: 'timeout'
  readonly step: string
  readonly attempt: number
  readonly jobId: string
  readonly error: StepError
  readonly willRetry: boolean
}

export interface SkipAction {
  readonly type: 'skip'
  readonly step: string
  readonly attempt: number
  readonly reason: SkipReason
}

/** Record the step cancelled; when `jobId` is set a job may be in flight: cancel it too. */
export interface CancelAction {
  readonly type: 'cancel'
  readonly step: string
  readonly attempt: number
  readonly reason: CancelReason
  readonly jobId: string | undefined
}

/** A workflow step's children all finished: record its output (the child workflow's outputs). */
export interface CompleteAction {
  readonly type: 'complete'
  readonly step: string
  readonly output: JsonObject
}

/** A workflow step failed because one of its children failed. */
export interface FailAction {
  readonly type: 'fail'
  readonly step: string
  readonly error: StepError
}

/** The run reached a terminal status: log `workflow_completed|failed|cancelled` once. */
export interface FinishAction {
  readonly type: 'finish'
  readonly status: 'completed' | 'failed' | 'cancelled'
  readonly outputs: JsonObject | undefined
  readonly error: RunFailure | undefined
}

export type PlanAction =
  | DispatchAction
  | RetryAction
  | TimeoutAction
  | SkipAction
  | CancelAction
  | CompleteAction
  | FailAction
  | FinishAction

export interface RunFailure {
  readonly step: string
  readonly error: StepError
}

export interface PlanLimits {
  /** Most steps of this run in flight (dispatched or running) at once. @default 128 */
  readonly maxConcurrency?: number
  /** Most new dispatches in this call (the coordinator's free slots). @default Infinity */
  readonly maxDispatch?: number
  /** Source of jitter, in [0, 1). @default Math.random */
  readonly random?: () => number
  /**
   * Also re-send the job of every attempt still in flight (same attempt, same job id), for a
   * coordinator that just took the run over or lost the supervisor those jobs went to: the old
   * dispatcher can no longer collect their results, and supervisors recognise the duplicate id.
   * @default false
   */
  readonly redispatchInFlight?: boolean
}

export interface Plan {
  /** The run's status once the actions are committed. */
  readonly status: RunStatus
  /** In the order to commit them; `finish`, when present, is last. */
  readonly actions: readonly PlanAction[]
  /** Earliest time something becomes due without any new event (a retry, a timeout). */
  readonly wakeAt: number | undefined
  /** Workflow outputs, once completed. */
  readonly outputs: JsonObject | undefined
  /** What failed the run, once failed. */
  readonly error: RunFailure | undefined
}

export interface StepReport {
  readonly id: string
  readonly status: StepStatus
  /** Attempts made so far (0 before the first dispatch). */
  readonly attempts: number
  readonly reason: string | undefined
  readonly error: StepError | undefined
  readonly output: JsonValue | undefined
  readonly retryAt: number | undefined
  readonly firstDispatchedAt: number | undefined
  readonly dispatchedAt: number | undefined
  readonly startedAt: number | undefined
  readonly finishedAt: number | undefined
  /** Dispatch of the current attempt to its end (or to `now` while in flight). */
  readonly durationMs: number | undefined
  /** First dispatch to the end of the last attempt, retries and backoff included. */
  readonly totalMs: number | undefined
}

export interface RunReport {
  readonly run: string
  readonly workflow: string
  readonly status: RunStatus
  readonly createdAt: number | undefined
  readonly finishedAt: number | undefined
  readonly paused: boolean
  readonly cancelled: boolean
  readonly outputs: JsonObject | undefined
  readonly error: RunFailure | undefined
  readonly steps: readonly StepReport[]
  /** Step count per status. */
  readonly counts: Readonly<Record<StepStatus, number>>
}
