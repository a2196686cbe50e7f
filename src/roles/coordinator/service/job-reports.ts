/**
 * What supervisors report about step jobs, turned into the scheduler's terms: the JobUpdate to
 * record and the trace of who ran it. A runner's result counts only when it answers the job sent
 * (id, attempt and envelope digest), is signed by the runner the supervisor says it dispatched to,
 * that runner's key is trusted as a runner of the step's capability, and the signature verifies —
 * checked in that order, so a stranger's forgery costs no signature verification. Anything else
 * fails the attempt as `InvalidResult` (with `data.reason`) and is counted; its output is dropped.
 */
import type { Logger } from '@libp2p/interface'
import {
  type JobResult,
  publicKeyHexOfPeer,
  type ResultRejectReason,
  resultRejectionCounts,
  type TrustPolicy,
  type VerifyResultOutcome,
  verifyResult,
} from '../../../protocols/jobs/index.js'
import type { JsonValue } from '../../../protocols/state/json-value.js'
import type { LogEntry, StepError } from '../../../protocols/state/lattice.js'
import type { JobEvent } from '../../supervisor/index.js'
import type { JobUpdate } from '../scheduling/index.js'
import type { TrackedJob } from './job-tracker.js'
import { JOB_TRACE_TYPE, runnerPeerOf } from './views.js'

/** Failures that retrying the same job cannot fix. */
const NON_RETRYABLE = new Set(['JobRejectedError', 'InvalidJobError', 'InvalidResult'])

/**
 * A succeeded job whose output is a blob: fetch it from `producer` (checked against `digest`, which
 * the runner signed), then record the step succeeded with a reference to it.
 */
export interface FetchOutput {
  readonly type: 'fetch'
  readonly step: string
  readonly attempt: number
  readonly digest: string
  readonly producer: string
}

export interface ResultStats {
  /** Results believed. */
  accepted: number
  /** Results refused, by reason. */
  rejected: Record<ResultRejectReason, number>
}

/** The coordinator's result checks, with their counters. */
export class ResultChecks {
  private readonly policy: () => TrustPolicy
  private readonly log: Logger
  private readonly counts: ResultStats = { accepted: 0, rejected: resultRejectionCounts() }
  /** The result each event carried, once believed: what the run's provenance records. */
  private readonly believed = new WeakMap<JobEvent, JobResult>()

  constructor(init: { policy: () => TrustPolicy; log: Logger }) {
    this.policy = init.policy
    this.log = init.log
  }

  stats(): ResultStats {
    return { accepted: this.counts.accepted, rejected: { ...this.counts.rejected } }
  }

  /** The signed result `event` carried, if `check` believed it. */
  verified(event: JobEvent): JobResult | undefined {
    return this.believed.get(event)
  }

  /** The result carried by `event`, if this coordinator may believe it answers `job`. */
  check(job: TrackedJob, event: JobEvent): VerifyResultOutcome {
    const dispatched = event.runner === undefined ? undefined : publicKeyHexOfPeer(event.runner)
    const policy = this.policy()
    const outcome: VerifyResultOutcome =
      dispatched === undefined
        ? {
            ok: false,
            reason: 'not_dispatched_runner',
            message: `the supervisor did not name a runner it dispatched ${job.jobId} to`,
          }
        : verifyResult(event.result, {
            // Before the job is signed no result can answer it: the empty digest matches none.
            job: { jobId: job.jobId, attempt: job.attempt, digest: job.digest ?? '' },
            runner: dispatched,
            trusted: (key) => policy.admits(key, { role: 'runner', capability: job.capability }),
          })
    if (outcome.ok) {
      this.counts.accepted++
      this.believed.set(event, outcome.result)
    } else {
      this.counts.rejected[outcome.reason]++
      this.log.error('result of %s refused (%s): %s', job.jobId, outcome.reason, outcome.message)
    }
    return outcome
  }
}

function invalid(outcome: { reason: ResultRejectReason; message: string }): StepError {
  return {
    type: 'InvalidResult',
    message: `${outcome.reason}: ${outcome.message}`,
    nonRetryable: true,
    data: { reason: outcome.reason },
  }
}

/** A supervisor's job event as the scheduler's JobUpdate; undefined for statuses it ignores. */
export function jobUpdateOf(
  job: TrackedJob,
  event: JobEvent,
  checks: ResultChecks,
): JobUpdate | FetchOutput | undefined {
  const at = { step: job.step, attempt: job.attempt }
  // A runner's signed result is believed only once checked, whatever status it reports.
  const checked = event.result === undefined ? undefined : checks.check(job, event)
  if (checked !== undefined && !checked.ok) return { type: 'failed', ...at, error: invalid(checked) }
  switch (event.status) {
    case 'running':
      return { type: 'started', ...at }
    case 'succeeded': {
      if (checked === undefined) {
        const error = invalid({ reason: 'malformed', message: 'a succeeded job came without a result' })
        return { type: 'failed', ...at, error }
      }
      if (checked.result.outputDigest !== undefined && checked.result.output === undefined) {
        // Too large to travel inline: the bytes are on the runner that signed the digest.
        const producer = runnerPeerOf(checked.result.runner)
        if (producer === undefined) {
          const message = `the runner key ${checked.result.runner} names no peer to fetch the output from`
          return { type: 'failed', ...at, error: { type: 'InvalidResult', message, nonRetryable: true } }
        }
        return { type: 'fetch', ...at, digest: checked.result.outputDigest, producer }
      }
      return { type: 'succeeded', ...at, result: (checked.result.output ?? null) as JsonValue }
    }
    case 'failed':
    case 'timed_out':
    case 'cancelled': {
      const failure = checked?.result.error ?? event.error
      const type = failure?.name ?? (event.status === 'timed_out' ? 'JobTimedOut' : 'JobCancelled')
      const error: StepError = {
        type,
        message: failure?.message ?? event.reason ?? `job ${event.status}`,
        ...(NON_RETRYABLE.has(type) ? { nonRetryable: true } : {}),
      }
      return { type: 'failed', ...at, error }
    }
    default:
      return undefined
  }
}

/** The log record of which supervisor and runner handled an attempt (shown in StepView). */
export function jobTrace(stamp: string, job: TrackedJob, event: JobEvent, supervisor: string): LogEntry {
  const runnerKey = event.result?.runner
  const runner = runnerKey === undefined ? event.runner : (runnerPeerOf(runnerKey) ?? event.runner)
  const data: Record<string, JsonValue> = { jobId: job.jobId, supervisor }
  if (runner !== undefined) data.runner = runner
  return {
    hlc: stamp,
    kind: 'log',
    type: JOB_TRACE_TYPE,
    severity: 'debug',
    message: `job ${job.jobId} ${event.status} on supervisor ${supervisor}${runner === undefined ? '' : ` (runner ${runner})`}`,
    step: job.step,
    attempt: job.attempt,
    data,
  }
}
