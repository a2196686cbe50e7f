/**
 * The run's record of each job this coordinator signed and sent: a `job_dispatched` entry in the
 * run's replicated log (severity `debug`, so `workflow logs` leaves it out), holding the signed
 * envelope itself — its chain back to the run's authority, its payload and capability — so a run's
 * provenance can be checked offline against the submitted document (`horus workflow export`).
 * An envelope larger than `MAX_RECORDED_ENVELOPE_BYTES` (its input carries big upstream outputs)
 * is recorded without its `input`, which is exactly its dependencies' outputs and is rebuilt from
 * the run's step results on export; replication deltas and anti-entropy frames stay small.
 *
 * And where each job is: a `job_placed` entry once a supervisor acknowledged it (that supervisor
 * holds it durably from then on), so a coordinator that takes the run over follows the job there
 * instead of guessing from the supervisors it happens to hear from at that moment.
 */
import { canonicalJson, type JobEnvelope, jobDigest } from '../../../protocols/jobs/index.js'
import type { JsonObject } from '../../../protocols/state/json-value.js'
import type { LogEntry } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'

/** Log entry type of a dispatched job's record. */
export const JOB_DISPATCHED_TYPE = 'job_dispatched'

/** Envelopes up to this size are recorded whole. @default 64 KiB */
export const MAX_RECORDED_ENVELOPE_BYTES = 64 * 1024

/** What a `job_dispatched` entry's `data` holds. */
export interface DispatchRecordData {
  jobId: string
  /** `jobDigest` of the envelope: what the runner's signed result answers. */
  digest: string
  /** The signed envelope; without `input` when `inputElided`. */
  envelope: JsonObject
  /** The envelope was too large: its `input` (the dependencies' outputs) is left out. */
  inputElided?: true
}

export function dispatchRecord(hlc: string, envelope: JobEnvelope, step: string, attempt: number): LogEntry {
  const whole = canonicalJson(envelope)
  const elide = Buffer.byteLength(whole) > MAX_RECORDED_ENVELOPE_BYTES
  const recorded = JSON.parse(whole) as JsonObject
  if (elide) delete recorded.input
  const data: JsonObject = {
    jobId: envelope.id,
    digest: jobDigest(envelope),
    envelope: recorded,
    ...(elide ? { inputElided: true } : {}),
  }
  return {
    hlc,
    kind: 'log',
    type: JOB_DISPATCHED_TYPE,
    severity: 'debug',
    message: `job ${envelope.id} signed by ${envelope.submitter}${elide ? ' (input left out: rebuilt from the step results)' : ''}`,
    step,
    attempt,
    data,
  }
}

/** Log entry type of a job's placement on a supervisor. */
export const JOB_PLACED_TYPE = 'job_placed'

export function placementRecord(
  hlc: string,
  job: { jobId: string; step: string; attempt: number },
  supervisor: string,
): LogEntry {
  return {
    hlc,
    kind: 'log',
    type: JOB_PLACED_TYPE,
    severity: 'debug',
    message: `job ${job.jobId} placed on supervisor ${supervisor}`,
    step: job.step,
    attempt: job.attempt,
    data: { jobId: job.jobId, supervisor },
  }
}

/** Where each job of the run was last placed (job id → supervisor), as the run's log records it. */
export function placements(state: RunState): Map<string, string> {
  const out = new Map<string, string>()
  // The log is in stamp order: the last record of a job wins.
  for (const entry of state.log()) {
    if (entry.type !== JOB_PLACED_TYPE) continue
    const data = entry.data as { jobId?: unknown; supervisor?: unknown } | undefined
    if (typeof data?.jobId === 'string' && typeof data.supervisor === 'string')
      out.set(data.jobId, data.supervisor)
  }
  return out
}
