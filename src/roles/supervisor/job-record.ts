/**
 * What the supervisor keeps per accepted job, and the status lifecycle
 * `queued → dispatched → running → succeeded | failed | timed_out | cancelled`.
 * A terminal status absorbs: nothing that arrives later (a late result, a lost runner) changes it.
 */
import type { JobEnvelope, JobFailure, JobResult } from '../../protocols/jobs/index.js'

export const SUPERVISOR_JOB_STATUSES = [
  'queued',
  'dispatched',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
] as const

export type SupervisorJobStatus = (typeof SUPERVISOR_JOB_STATUSES)[number]

export const TERMINAL_STATUSES: ReadonlySet<SupervisorJobStatus> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
])

export function isTerminal(status: SupervisorJobStatus): boolean {
  return TERMINAL_STATUSES.has(status)
}

/** How the job reached this supervisor. */
export type JobSource = 'rpc' | 'gossip'

/** A runner that would not run the job, and what it said. */
export interface Refusal {
  /** Peer ID of the runner. */
  runner: string
  reason: string
}

/** The persisted record of one job. */
export interface JobRecord {
  job: JobEnvelope
  /** `jobDigest(job)`: the runner's result must name it. */
  digest: string
  status: SupervisorJobStatus
  /** Why the job is in its status (`no runner for capability "x"`, a runner's failure, …). */
  reason?: string
  /** Peer ID of the runner the job is (or was last) handed to. */
  runner?: string
  /**
   * The only runner the job may go to: this node's, which spent its nonce before this supervisor
   * took it (for another supervisor) and answers it from its execution; any other would run it again.
   */
  pinnedTo?: string
  /** Runners the job was handed to, in order: each executes a job id at most once. */
  tried: string[]
  /** Runners that refused the job (rejected it, no longer have it): never asked again. */
  refused: string[]
  /** Why each runner in `refused` refused it, in order. */
  refusals?: Refusal[]
  /** The runner's signed result, once it reported one. */
  result?: JobResult
  /** A failure decided by the supervisor itself (expired, cancelled, gave up): no runner result. */
  error?: JobFailure
  source: JobSource
  acceptedAt: number
  updatedAt: number
}

/** What `create_job`, `get_job_status` and `list_jobs` answer: the record without the envelope. */
export interface JobStatusView {
  jobId: string
  capability: string
  attempt: number
  run?: string
  step?: string
  status: SupervisorJobStatus
  reason?: string
  runner?: string
  tried: string[]
  /** Runners that refused the job and why (trust, capability…), as soon as they did. */
  refusals?: Refusal[]
  source: JobSource
  acceptedAt: number
  updatedAt: number
}

/** What `get_job_result` answers; `result` or `error` is present once `status` is terminal. */
export interface JobResultView {
  jobId: string
  status: SupervisorJobStatus
  reason?: string
  runner?: string
  result?: JobResult
  error?: JobFailure
  refusals?: Refusal[]
  /** The envelope, when asked for (`includeJob`): what the result is bound to. */
  job?: JobEnvelope
}

/** One status change, as `supervisor.job_events` delivers it. */
export interface JobEvent {
  jobId: string
  status: SupervisorJobStatus
  reason?: string
  runner?: string
  result?: JobResult
  error?: JobFailure
  refusals?: Refusal[]
}

export function statusView(record: JobRecord): JobStatusView {
  const { job } = record
  return {
    jobId: job.id,
    capability: job.runner,
    attempt: job.attempt,
    ...(job.run === undefined ? {} : { run: job.run }),
    ...(job.step === undefined ? {} : { step: job.step }),
    status: record.status,
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    ...(record.runner === undefined ? {} : { runner: record.runner }),
    tried: [...record.tried],
    ...(record.refusals === undefined || record.refusals.length === 0
      ? {}
      : { refusals: [...record.refusals] }),
    source: record.source,
    acceptedAt: record.acceptedAt,
    updatedAt: record.updatedAt,
  }
}

export function resultView(record: JobRecord): JobResultView {
  return {
    jobId: record.job.id,
    status: record.status,
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    ...(record.runner === undefined ? {} : { runner: record.runner }),
    ...(record.result === undefined ? {} : { result: record.result }),
    ...(record.error === undefined ? {} : { error: record.error }),
    ...(record.refusals === undefined || record.refusals.length === 0
      ? {}
      : { refusals: [...record.refusals] }),
  }
}

/** A status event carries exactly what `get_job_result` answers at that moment. */
export function eventOf(record: JobRecord): JobEvent {
  return resultView(record)
}
