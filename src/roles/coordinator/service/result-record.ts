/**
 * The run's record of each signed result this coordinator believed: a `job_result` entry in the
 * run's replicated log (severity `debug`), holding the runner's signed result as it arrived, so a
 * run's provenance — who computed each output, for which envelope — can be checked offline
 * (`horus workflow export`). A result whose inline output is larger than
 * `MAX_RECORDED_OUTPUT_BYTES` is recorded without it: it is a succeeded step's output, which the
 * step's entry already holds, and export puts it back (the signature then checks it).
 */
import { canonicalJson, type JobEnvelope, type JobResult } from '../../../protocols/jobs/index.js'
import type { JsonObject } from '../../../protocols/state/json-value.js'
import type { LogEntry } from '../../../protocols/state/lattice.js'
import { dispatchRecord } from './dispatch-record.js'

/** Log entry type of a believed result's record. */
export const JOB_RESULT_TYPE = 'job_result'

/** Outputs up to this size are recorded inside the result. @default 64 KiB */
export const MAX_RECORDED_OUTPUT_BYTES = 64 * 1024

/** What a `job_result` entry's `data` holds. */
export interface ResultRecordData {
  jobId: string
  /** The signed result; without `output` when `outputElided`. */
  result: JsonObject
  /** The output was too large to record twice: it is the step's recorded output. */
  outputElided?: true
}

export function resultRecord(hlc: string, result: JobResult, step: string): LogEntry {
  const recorded = JSON.parse(canonicalJson(result)) as JsonObject
  const elide =
    result.output !== undefined && Buffer.byteLength(canonicalJson(result.output)) > MAX_RECORDED_OUTPUT_BYTES
  if (elide) delete recorded.output
  return {
    hlc,
    kind: 'log',
    type: JOB_RESULT_TYPE,
    severity: 'debug',
    message: `result of ${result.jobId}: ${result.status}, signed by runner ${result.runner}`,
    step,
    attempt: result.attempt,
    data: { jobId: result.jobId, result: recorded, ...(elide ? { outputElided: true } : {}) },
  }
}

/**
 * What the run's log records when `result` of a tracked job is believed: the result, and the
 * envelope it answers when that is one adopted from another coordinator (whose own record may
 * never have reached this replica).
 */
export function provenanceRecords(
  stamp: () => string,
  job: { step: string; attempt: number; followed?: JobEnvelope | undefined },
  result: JobResult,
): LogEntry[] {
  const adopted =
    job.followed === undefined ? [] : [dispatchRecord(stamp(), job.followed, job.step, job.attempt)]
  return [...adopted, resultRecord(stamp(), result, job.step)]
}
