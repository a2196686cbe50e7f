/**
 * The run's record of each job this coordinator signed and sent: a `job_dispatched` entry in the
 * run's replicated log (severity `debug`, so `workflow logs` leaves it out), holding the signed
 * envelope itself — its chain back to the run's authority, its payload and capability — so a run's
 * provenance can be checked offline against the submitted document. An envelope larger than
 * `MAX_RECORDED_ENVELOPE_BYTES` (its input carries big upstream outputs) is recorded by digest and
 * signatures only, keeping replication deltas and anti-entropy frames small.
 */
import { createHash } from 'node:crypto'
import { canonicalJson, type JobEnvelope, unsignedJob } from '../../../protocols/jobs/index.js'
import type { JsonObject } from '../../../protocols/state/json-value.js'
import type { LogEntry } from '../../../protocols/state/lattice.js'

/** Log entry type of a dispatched job's record. */
export const JOB_DISPATCHED_TYPE = 'job_dispatched'

/** Envelopes up to this size are recorded whole. @default 64 KiB */
export const MAX_RECORDED_ENVELOPE_BYTES = 64 * 1024

export function dispatchRecord(hlc: string, envelope: JobEnvelope, step: string, attempt: number): LogEntry {
  const unsigned = canonicalJson(unsignedJob(envelope))
  const digest = createHash('sha256').update(unsigned).digest('hex')
  const whole = Buffer.byteLength(unsigned) <= MAX_RECORDED_ENVELOPE_BYTES
  const data: JsonObject = {
    jobId: envelope.id,
    // SHA-256 of the canonical unsigned envelope: what the runner's signed result answers.
    digest,
    signatures: envelope.signatures.map((link) => ({ key: link.key, sig: link.sig })),
    ...(whole ? { envelope: JSON.parse(canonicalJson(envelope)) as JsonObject } : {}),
  }
  return {
    hlc,
    kind: 'log',
    type: JOB_DISPATCHED_TYPE,
    severity: 'debug',
    message: `job ${envelope.id} signed by ${envelope.submitter}${whole ? '' : ' (envelope recorded by digest)'}`,
    step,
    attempt,
    data,
  }
}
