/** Defaults of the runner's service layer (execution defaults live in ../execution/constants.ts). */

/** Datastore prefix of signed results: `/horus/runner/results/<encoded job id>`. */
export const RESULTS_PREFIX = '/horus/runner/results'

/**
 * Longest `runner.execute` call the RPC server allows. The job's own `timeoutMs` is enforced by
 * the executor; this only has to be longer than any job may ask for (the executor's maximum).
 * @default 3_660_000 (one hour and one minute)
 */
export const EXECUTE_CALL_TIMEOUT_MS = 61 * 60_000

/** The built-in kinds a runner serves unless told otherwise. */
export const BUILTIN_KINDS = ['hero', 'sal', 'osiris'] as const

/** Folder of per-job work dirs inside the node's data dir (`runner.workDir` overrides it). */
export const WORK_DIR_NAME = 'work'

/**
 * Jobs one `runner.execute_many` call may carry: a supervisor's pick of one pump for one runner
 * fits (it dispatches at most 48 at once to a runner by default); the cap bounds what one call can
 * make a runner verify before it answers. @default 64
 */
export const MAX_EXECUTE_BATCH = 64

/**
 * How often a serving runner deletes the results whose job expired (a result is kept until its
 * job's expiry so that the same job dispatched again is answered, not run again; after it, no
 * verifier accepts the job). Between sweeps at most this long of expired results stays on disk.
 */
export const RESULT_SWEEP_INTERVAL_MS = 10_000
