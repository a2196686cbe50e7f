/**
 * The supervisor role: admits signed jobs, routes each to a runner of its capability, and keeps
 * its record until it ends.
 *
 * - RPC (callers need trust role client or coordinator): `supervisor.create_job {job,
 *   waitForRunner?}` (verify, persist, then acknowledge; idempotent by job id; a job for a
 *   capability no live runner offers is refused at once with NoRunnerError unless
 *   `waitForRunner`), `get_job_status {jobId}`,
 *   `get_job_result {jobId, wait?, timeoutMs?, includeJob?}` (long-poll with `wait`; the signed
 *   envelope with `includeJob`), `get_job_logs {jobId}`, `cancel_job {jobId}`,
 *   `list_jobs {status?, limit?}` (newest first), `list_runners`, and the subscription
 *   `supervisor.job_events {jobId?}` — every status change `{ jobId, status, reason?, runner?,
 *   result?, error?, refusals? }`. A job is visible only to its submitter, to trusted coordinators
 *   (step jobs) and to `admin` keys (access.ts); to anyone else it does not exist.
 * - Results: a runner's result is recorded only if it answers the job's id, attempt and envelope
 *   digest, is signed by the runner dispatched to, whose key the policy trusts as a runner of the
 *   capability; otherwise the job fails as `InvalidResult` with the reason (counted in `stats()`).
 * - Refusals: a runner that refuses a job (trust, capability) is recorded in `refusals` at once and
 *   never asked again; once every runner of the capability refused, the job fails
 *   (`JobRefusedError`) naming them.
 * - Status: `queued → dispatched → running → succeeded | failed | timed_out | cancelled`; a job
 *   waiting says why in `reason` (`no runner for capability "x"`, all runners busy, …).
 * - Routing: runners from liveness heartbeats and DHT provider records, as far as the trust policy
 *   in force holds their keys as runners of the capability; the least loaded runner
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
  NoRunnerError,
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
  type Refusal,
  SUPERVISOR_JOB_STATUSES,
  type SupervisorJobStatus,
  TERMINAL_STATUSES,
} from './job-record.js'
export { restoreJobNonces } from './job-store.js'
export type { LocalRunner } from './runner-link.js'
export type { RunnerSource, RunnerView } from './runner-pool.js'
export {
  type SupervisorComponents,
  type SupervisorEvents,
  type SupervisorOptions,
  SupervisorService,
  type SupervisorStats,
} from './supervisor-service.js'

/** Creates the supervisor service of a node (a HorusNode is a SupervisorComponents). */
export function createSupervisor(
  components: SupervisorComponents,
  options: SupervisorOptions = {},
): SupervisorService {
  return new SupervisorService(components, options)
}
