/**
 * What the coordinator and supervisor answer, as the SDK hands it to callers. The coordinator's
 * shapes are the contract in `src/roles/coordinator/API.md`; change both together.
 * Times are ISO-8601 strings, durations milliseconds.
 */
import type { JobFailure, JobResult } from '../protocols/jobs/result.js'

export type { JobFailure, JobResult }

export type RunStatus = 'pending' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled'

export type StepState =
  | 'pending'
  | 'ready'
  | 'dispatched'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled'

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled'])

export function isTerminalRun(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.has(status)
}

export interface ErrorInfo {
  name: string
  message: string
  retryable?: boolean
}

export interface StepView {
  id: string
  /** Capability; absent for a composition step. */
  runner?: string
  dependsOn: string[]
  state: StepState
  /** 0 before the first dispatch. */
  attempt: number
  startedAt?: string
  finishedAt?: string
  durationMs?: number
  jobId?: string
  /** Peer ID of the supervisor the step's job went to. */
  supervisor?: string
  /** Peer ID of the runner that produced the result. */
  runnerPeer?: string
  /** Present once succeeded. */
  output?: unknown
  error?: ErrorInfo
  /** Why skipped, cancelled or waiting. */
  reason?: string
}

export interface RunView {
  runId: string
  /** Workflow name. */
  workflow: string
  status: RunStatus
  /** Peer ID of the coordinator holding the run's lease. */
  owner?: string
  inputs: Record<string, unknown>
  outputs?: Record<string, unknown>
  createdAt: string
  finishedAt?: string
  /** In topological order. */
  steps: StepView[]
  error?: { step?: string; name: string; message: string }
}

export interface RunSummary {
  runId: string
  workflow: string
  status: RunStatus
  createdAt: string
  finishedAt?: string
}

export type Severity = 'info' | 'warning' | 'error' | 'critical'

export type MonitorEventType =
  | 'workflow_started'
  | 'step_dispatched'
  | 'step_started'
  | 'step_succeeded'
  | 'step_failed'
  | 'step_retrying'
  | 'step_skipped'
  | 'workflow_completed'
  | 'workflow_failed'
  | 'workflow_cancelled'
  | 'workflow_paused'
  | 'workflow_resumed'
  | 'node_status'

export interface MonitorEvent {
  type: MonitorEventType
  severity: Severity
  at: string
  /** Peer ID of the coordinator that observed it. */
  node: string
  runId?: string
  stepId?: string
  message: string
  data?: Record<string, unknown>
}

export interface LogLine {
  at: string
  node: string
  stepId?: string
  level: 'info' | 'warn' | 'error'
  message: string
}

export interface RunErrorRecord {
  stepId?: string
  attempt?: number
  name: string
  message: string
  at: string
}

export interface RunMetrics {
  durationMs?: number
  steps: { id: string; attempts: number; durationMs?: number; queuedMs?: number }[]
}

/** A workflow definition as the seed writes it; the coordinator validates the details. */
export interface WorkflowDefinition {
  workflow: {
    name: string
    steps: Array<{
      id: string
      runner?: string
      payload?: string
      depends_on?: string[]
      [key: string]: unknown
    }>
    [key: string]: unknown
  }
  [key: string]: unknown
}

/* ---- single jobs (supervisor) ---- */

export type JobStatus =
  | 'queued'
  | 'dispatched'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled'

export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
])

/** What `supervisor.create_job`, `get_job_status` and `list_jobs` answer. */
export interface JobStatusView {
  jobId: string
  capability: string
  attempt: number
  run?: string
  step?: string
  status: JobStatus
  reason?: string
  /** Peer ID of the runner the job is (or was last) handed to. */
  runner?: string
  tried: string[]
  source: 'rpc' | 'gossip'
  /** Epoch milliseconds. */
  acceptedAt: number
  updatedAt: number
}

/** What `supervisor.get_job_result` answers; `result` or `error` is present once terminal. */
export interface JobResultView {
  jobId: string
  status: JobStatus
  reason?: string
  runner?: string
  /** The runner's signed result; the SDK checks its signature before handing it over. */
  result?: JobResult
  /** A failure the supervisor decided itself (expired, cancelled, no runner): no runner result. */
  error?: JobFailure
}

/** One alive node, from `mesh.liveness`. */
export interface LivePeer {
  peerId: string
  roles: string[]
  capabilities: string[]
  load: { running: number; capacity: number }
  lastSeen: string
}
