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
export type SkipReason = 'condition' | 'trigger_rule' | 'upstream_failed' | 'parent_skipped' | 'run_succeeded'

/**
 * Why a step was cancelled: the run was cancelled, the run failed, the run ran past its
 * `timeout`, or its workflow step failed.
 */
export type CancelReason = 'run_cancelled' | 'run_failed' | 'run_timeout' | 'parent_failed'

/** What a job learns about its run besides its inputs (`run` in scripts). */
export interface RunContext {
  readonly id: string
  readonly workflow: string
  /** The failure, once the run failed (what `on_failure` steps see); else null. */
  readonly error: { readonly step: string | null; readonly type: string; readonly message: string } | null
}

/** Sent with a step's job: the inputs of its workflow (`inputs` in scripts) and the run. */
export interface StepContext {
  readonly inputs: JsonObject
  readonly run: RunContext
}

/** Send a job for this attempt (deterministic `jobId`, so a duplicate dispatch is recognised). */
export interface DispatchAction {
  readonly type: 'dispatch'
  readonly step: string
  readonly attempt: number
  readonly jobId: string
  readonly runner: string
  readonly payload: JsonValue
  /**
   * Outputs of the step's dependencies by local step id (`null` for a skipped one); for a child of
   * a `for_each` step, `{ item, index }` instead. Outputs stored as blobs stay references here.
   */
  readonly input: JsonObject
  readonly timeoutMs: number | undefined
  /** The step's `env`, evaluated. */
  readonly env: Readonly<Record<string, string>>
  readonly context: StepContext
}

/** A step that dispatches no job started: a sleep, a signal wait, or a `for_each` with `items` children. */
export interface StartAction {
  readonly type: 'start'
  readonly step: string
  readonly attempt: number
  readonly items: number | undefined
  readonly message: string
}

/** Record that attempt `attempt` (the next one) waits until `retryAt` after `error`. */
export interface RetryAction {
  readonly type: 'retry'
  readonly step: string
  readonly attempt: number
  readonly retryAt: number
  readonly error: StepError
}

/** The attempt ran past its timeout: record it failed and cancel its job (if it has one). */
export interface TimeoutAction {
  readonly type: 'timeout'
  readonly step: string
  readonly attempt: number
  readonly jobId: string | undefined
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

/**
 * A step that runs no job of its own finished: a workflow step (output: the child workflow's
 * outputs), a sleep, a signal wait (output: the signal's data), a `for_each` step (output derived
 * from its children, so none is stored).
 */
export interface CompleteAction {
  readonly type: 'complete'
  readonly step: string
  readonly attempt: number
  readonly output: JsonValue | undefined
  readonly message: string
}

/** A step that runs no job of its own failed: a child of its workflow, or of its `for_each`, failed. */
export interface FailAction {
  readonly type: 'fail'
  readonly step: string
  readonly attempt: number
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
  | StartAction
  | RetryAction
  | TimeoutAction
  | SkipAction
  | CancelAction
  | CompleteAction
  | FailAction
  | FinishAction

/** What failed the run: a step, or (without `step`) the run's own `timeout`. */
export interface RunFailure {
  readonly step?: string
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
  /**
   * The value of a blob reference when it is at hand (a step output stored as a blob that an
   * expression looks into); `undefined` makes the step wait and lists the digest in `needBlobs`.
   */
  readonly blobs?: (digest: string) => JsonValue | undefined
  /** Most children of one `for_each` step. @default DEFAULT_MAX_MAP_ITEMS (100,000) */
  readonly maxMapItems?: number
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
  /** Blobs an expression needs before the run can go on: load them, then plan again. */
  readonly needBlobs: readonly string[]
}

/** A `for_each` step's children by status. */
export interface MapItems {
  readonly total: number
  readonly counts: Readonly<Partial<Record<StepStatus, number>>>
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
  /** A `for_each` step that started: its children by status. */
  readonly items: MapItems | undefined
}

export interface RunReport {
  readonly run: string
  readonly workflow: string
  readonly status: RunStatus
  readonly createdAt: number | undefined
  readonly finishedAt: number | undefined
  readonly paused: boolean
  readonly cancelled: boolean
  /** Times the run was rerun (`retry_workflow`). */
  readonly epoch: number
  readonly outputs: JsonObject | undefined
  readonly error: RunFailure | undefined
  readonly steps: readonly StepReport[]
  /** Step count per status. */
  readonly counts: Readonly<Record<StepStatus, number>>
}
