/** Defaults of the coordinator service. Each option that reads one documents it with `@default`. */

/** Datastore prefix of the runs this coordinator holds (snapshot + deltas per run). */
export const RUNS_PREFIX = '/horus/coordinator/runs'

/** Steps of all runs this coordinator has in flight at once. @default 1_024 */
export const DEFAULT_MAX_IN_FLIGHT = 1_024

/** Steps of one run in flight at once. @default 128 */
export const DEFAULT_RUN_CONCURRENCY = 128

/**
 * `timeoutMs` written into the job of a step that declares no `timeout` (the runner enforces it).
 * @default 600_000 (10 minutes)
 */
export const DEFAULT_STEP_JOB_TIMEOUT_MS = 600_000

/** How long after its creation a step's job may still be accepted by a supervisor. @default 600_000 */
export const DEFAULT_JOB_TTL_MS = 600_000

/** How often the owner renews its lease, as a fraction of the lease's time to live. */
export const LEASE_RENEW_FRACTION = 1 / 3

/** How often leases of other coordinators are checked for lapse. @default 1_000 */
export const DEFAULT_LEASE_CHECK_MS = 1_000

/** Coordinators that hold a replica of each run: its replica set. @default 3 */
export const DEFAULT_REPLICAS = 3

/** Anti-entropy round with every live coordinator, this often. @default 10_000 */
export const DEFAULT_SYNC_INTERVAL_MS = 10_000

/**
 * In-flight jobs are checked against their supervisor this often, to catch a completion whose
 * event was lost (the subscription broke) and jobs a restarted supervisor no longer has.
 * @default 5_000
 */
export const DEFAULT_RECONCILE_INTERVAL_MS = 5_000

/**
 * A supervisor holding jobs that has been unreachable this long is given up on: its jobs are sent
 * to another supervisor (and its copies cancelled once it answers again). Shorter, and a node
 * that is only restarting has its jobs run twice — by the supervisor that resumes them and by the
 * one they were moved to; longer, and a node that is gone for good holds its steps that long.
 * @default 30_000
 */
export const DEFAULT_SUPERVISOR_LOSS_MS = 30_000

/** Supervisors are looked up in the DHT at most this often while none is known. @default 5_000 */
export const SUPERVISOR_LOOKUP_INTERVAL_MS = 5_000

/**
 * A coordinator sends its jobs to the supervisor in its own node (a function call, where any other
 * is an RPC) while that one has at most this many more of its jobs in flight than the least loaded
 * other usable supervisor. The local supervisor hands jobs to every runner of the mesh, so this
 * bounds only how much supervisor work one node takes on, not which runners run the jobs.
 * @default 16
 */
export const LOCAL_SUPERVISOR_MARGIN = 16

/** A supervisor that failed a call is not used again for this long. @default 5_000 */
export const SUPERVISOR_BACKOFF_MS = 5_000

/** Dispatches that found no supervisor are tried again this often. @default 1_000 */
export const DISPATCH_RETRY_MS = 1_000

/** Runs are compacted in the datastore after this many appended deltas. @default 200 */
export const COMPACT_AFTER_DELTAS = 200

/** `wait_for_completion` without `timeoutMs`. @default 30_000 */
export const DEFAULT_WAIT_MS = 30_000

/** Longest `wait_for_completion` a caller may ask for. @default 600_000 */
export const MAX_WAIT_MS = 600_000

/** `list_workflows` without `limit`. @default 100 */
export const DEFAULT_LIST_LIMIT = 100

/** Runner log lines copied from the supervisor into the run's log per job. @default 200 */
export const MAX_JOB_LOG_LINES = 200

/** Finished runs are deleted this long after they finished (an index entry stays). @default 7 days */
export const DEFAULT_RUN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000

/** Finished runs are looked at for expiry at most this often (and at least every retention / 4). @default 3_600_000 */
export const MAX_RETENTION_SWEEP_MS = 60 * 60 * 1000
