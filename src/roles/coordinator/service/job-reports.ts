/**
 * What supervisors report about step jobs, turned into the scheduler's terms: the JobUpdate to
 * record (results only once their runner's signature verifies) and the trace of who ran it.
 */
import { verifyResult } from '../../../protocols/jobs/index.js'
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

/** A supervisor's job event as the scheduler's JobUpdate; undefined for statuses it ignores. */
export function jobUpdateOf(job: TrackedJob, event: JobEvent): JobUpdate | FetchOutput | undefined {
  const at = { step: job.step, attempt: job.attempt }
  switch (event.status) {
    case 'running':
      return { type: 'started', ...at }
    case 'succeeded': {
      const checked = verifyResult(event.result)
      if (!checked.ok)
        return { type: 'failed', ...at, error: { type: 'InvalidResult', message: checked.message } }
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
      const failure = event.result?.error ?? event.error
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
