/**
 * The supervisor role: admits signed jobs, routes each to a runner of its capability, and keeps
 * its record until it ends.
 *
 * - RPC (callers need trust role client or coordinator): `supervisor.create_job {job}` (verify,
 *   persist, then acknowledge; idempotent by job id), `get_job_status {jobId}`,
 *   `get_job_result {jobId, wait?, timeoutMs?}` (long-poll with `wait`), `get_job_logs {jobId}`,
 *   `cancel_job {jobId}`, `list_jobs {status?, limit?}` (newest first), `list_runners`, and the
 *   subscription `supervisor.job_events {jobId?}` — every status change `{ jobId, status, reason?,
 *   runner?, result?, error? }`.
 * - Status: `queued → dispatched → running → succeeded | failed | timed_out | cancelled`; a job
 *   waiting says why in `reason` (`no runner for capability "x"`, all runners busy, …).
 * - Routing: runners from liveness heartbeats and DHT provider records; the least loaded runner
 *   with a free slot (slots = its capacity × `inFlightPerSlot`) gets the job; the rest wait in a
 *   FIFO per capability (back-pressure). A lost runner's jobs go to another runner; a runner that
 *   refused a job is never asked again; each runner executes a job id at most once.
 * - Durability: every accepted job is in the datastore before `create_job` answers; a restarted
 *   supervisor resumes unfinished jobs with the same ids, re-attaching to the runner that has them.
 * - Gossip: jobs announced on `horus/v1/jobs/<capability>` are claimed by one supervisor
 *   (CLAIMS.md).
 */
import type { SupervisorComponents, SupervisorOptions } from './supervisor-service.js'
import { SupervisorService } from './supervisor-service.js'

export { readSupervisorConfig } from './config.js'
export * from './constants.js'
/** Errors a client of `supervisor.*` may get back, for `Libp2pRpcClient({ errors })`. */
export {
  JobIdConflictError,
  JobNotFoundError,
  SUPERVISOR_ERRORS,
  SupervisorNotRunningError,
} from './errors.js'
export { claimant, rendezvousScore } from './gossip-claims.js'
export {
  isTerminal,
  type JobEvent,
  type JobRecord,
  type JobResultView,
  type JobSource,
  type JobStatusView,
  SUPERVISOR_JOB_STATUSES,
  type SupervisorJobStatus,
  TERMINAL_STATUSES,
} from './job-record.js'
export type { LocalRunner } from './runner-link.js'
export type { RunnerSource, RunnerView } from './runner-pool.js'
export {
  type SupervisorComponents,
  type SupervisorEvents,
  type SupervisorOptions,
  SupervisorService,
} from './supervisor-service.js'

/** Creates the supervisor service of a node (a HorusNode is a SupervisorComponents). */
export function createSupervisor(
  components: SupervisorComponents,
  options: SupervisorOptions = {},
): SupervisorService {
  return new SupervisorService(components, options)
}
