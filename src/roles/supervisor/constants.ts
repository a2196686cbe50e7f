/** Defaults of the supervisor role. Each option that reads one documents it with `@default`. */

/** Datastore prefix of accepted jobs: `/horus/supervisor/jobs/<encoded job id>`. */
export const JOBS_PREFIX = '/horus/supervisor/jobs'

/** Datastore prefix of the logs of finished jobs, written once when a job ends. */
export const LOGS_PREFIX = '/horus/supervisor/logs'

/**
 * Dispatches in flight per runner, per unit of the capacity it announces: 2 keeps the next job
 * waiting on the runner while the current one finishes, so a runner never idles for a round trip.
 * @default 2
 */
export const DEFAULT_IN_FLIGHT_PER_SLOT = 2

/**
 * Hard ceiling of dispatches in flight to one runner, below the RPC layer's per-peer cap (64) so
 * `runner.cancel` and `runner.describe` still get through to a full runner.
 * @default 48
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_RUNNER = 48

/**
 * Capacity assumed for a runner that announced none yet (found through the DHT only).
 * @default 1
 */
export const DEFAULT_UNKNOWN_CAPACITY = 1

/**
 * Different runners a job is handed to before it fails: a job that kills every runner it touches
 * must not walk through the whole mesh.
 * @default 5
 */
export const DEFAULT_MAX_DISPATCHES = 5

/**
 * After a restart, how long a job that was out on a runner waits for that same runner to be seen
 * again before it may go to another: re-attaching returns the running execution instead of
 * starting a second one. One liveness window.
 * @default 5_000
 */
export const DEFAULT_RESUME_GRACE_MS = 5_000

/**
 * Added to a job's own `timeoutMs` for the dispatch call: the runner enforces the job timeout and
 * answers `timed_out`; this only catches a runner that stopped answering altogether.
 * @default 15_000
 */
export const DISPATCH_TIMEOUT_GRACE_MS = 15_000

/** How often queued jobs are re-examined (expiry, DHT look-ups, resume grace). @default 1_000 */
export const DEFAULT_TICK_MS = 1_000

/** Minimum time between two DHT provider look-ups for the same capability. @default 5_000 */
export const DHT_LOOKUP_INTERVAL_MS = 5_000

/** DHT look-up deadline. @default 5_000 */
export const DHT_LOOKUP_TIMEOUT_MS = 5_000

/** How long a runner found through the DHT (and described over RPC) is trusted without a heartbeat. @default 30_000 */
export const DHT_RUNNER_TTL_MS = 30_000

/** `get_job_result` with `wait` and no `timeoutMs`. @default 25_000 */
export const DEFAULT_RESULT_WAIT_MS = 25_000

/** Longest `get_job_result` wait a caller may ask for. @default 600_000 */
export const MAX_RESULT_WAIT_MS = 600_000

/** Finished jobs are kept this long, then removed at start and by the periodic sweep. @default 24 h */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60_000

/** Log lines kept per job on the supervisor (the runner bounds their size). @default 2_000 */
export const MAX_LOG_LINES = 2_000

/** Jobs one `list_jobs` answer carries at most. @default 1_000 */
export const DEFAULT_LIST_LIMIT = 1_000

/**
 * Gossip-announced jobs a supervisor remembers without claiming, so it can take over when the
 * claimant is lost (see CLAIMS.md).
 * @default 10_000
 */
export const MAX_WATCHED_ANNOUNCEMENTS = 10_000

/** How long a watched announcement can still be taken over. @default 60_000 */
export const WATCH_ANNOUNCEMENT_MS = 60_000

/**
 * How often, at most, finished jobs past retention are dropped while running: every tenth of the
 * retention, between MIN_PRUNE_INTERVAL_MS and this, so a finished job stays in memory at most
 * about a tenth longer than its retention. @default 600_000 (10 min)
 */
export const PRUNE_INTERVAL_MS = 10 * 60_000

/** The shortest prune interval (a short retention). @default 1_000 */
export const MIN_PRUNE_INTERVAL_MS = 1_000

/** The prune interval for a retention of `retentionMs`. */
export function pruneIntervalMs(retentionMs: number): number {
  return Math.min(PRUNE_INTERVAL_MS, Math.max(MIN_PRUNE_INTERVAL_MS, Math.round(retentionMs / 10)))
}

/**
 * Right after start a supervisor has not heard every runner's heartbeat yet: a job for a
 * capability nobody offers waits this long (one liveness window) for one before `no_runner`.
 * @default 5_000
 */
export const STARTUP_RUNNER_WAIT_MS = 5_000

/**
 * A runner whose heartbeats stopped keeps the jobs it is executing if it answers a ping within
 * this long (it is slow, not gone); otherwise they go to another runner. @default 3_000
 */
export const RUNNER_PING_TIMEOUT_MS = 3_000

/**
 * How long a step job id a coordinator looked for here and did not find stays held for it
 * (`supervisor.get_job_result` with `reserve`): longer than any step job lives (the coordinator's
 * job TTL is 10 minutes), so a stale envelope of the previous owner cannot arrive after it.
 */
export const RESERVATION_MS = 15 * 60_000

/** At most this many step job ids are held at once (the oldest are let go first). */
export const MAX_RESERVATIONS = 10_000

/**
 * Jobs in one `supervisor.create_jobs` call. Each is verified on its own; the cap bounds what one
 * request can make the supervisor verify and write before it answers.
 */
export const MAX_JOBS_PER_BATCH = 256

/**
 * Outcomes one `supervisor.job_outcomes` notification carries at most (those of one event-loop
 * turn travel together; more go in further notifications, as do any past 512 KiB of JSON).
 */
export const MAX_OUTCOMES_PER_EVENT = 256
