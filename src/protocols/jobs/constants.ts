/** Defaults for the signed-jobs layer. Every option that reads one of these documents it with `@default`. */

/** A capability (runner kind) name: lower-case, starts with a letter, at most 64 characters. */
export const CAPABILITY_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/

/** How long a freshly created job may be accepted for execution. @default 10 minutes */
export const DEFAULT_JOB_TTL_MS = 10 * 60_000

/**
 * The longest lifetime (`expiresAt - createdAt`) a verifier accepts. It bounds how long a replay
 * cache entry lives, so a signer cannot pin entries forever. @default 24 hours
 */
export const DEFAULT_MAX_JOB_TTL_MS = 24 * 60 * 60_000

/** Execution time limit written into a job when the caller gives none. @default 60 seconds */
export const DEFAULT_JOB_TIMEOUT_MS = 60_000

/**
 * The longest `timeoutMs` a job envelope may carry: 7 days. Longer than any job an orchestrator
 * step should hold a runner's slot for (a runner narrows it further with `runner.maxTimeoutMs`,
 * 1 hour by default), and well inside what one timer can wait for (2^31 − 1 ms, ~24.8 days).
 */
export const MAX_JOB_TIMEOUT_MS = 7 * 24 * 60 * 60_000

/** How far in the future `createdAt` may be before a job is `not_yet_valid`. @default 30 seconds */
export const DEFAULT_CLOCK_SKEW_MS = 30_000

/** Largest encoded job a verifier looks at. @default 1 MiB */
export const DEFAULT_MAX_JOB_BYTES = 1024 * 1024

/** A chain longer than this is malformed: the submitter plus a generous number of re-dispatches. */
export const MAX_SIGNATURES = 16

/** Largest `output` kept inline in a result; bigger outputs are replaced by their digest. @default 256 KiB */
export const DEFAULT_MAX_RESULT_OUTPUT_BYTES = 256 * 1024

/** Largest encoded result `verifyResult` looks at. @default 1 MiB */
export const DEFAULT_MAX_RESULT_BYTES = 1024 * 1024

/**
 * Domain tags inside the signed documents, so a signature made for one kind of document (a job,
 * a result) can never be replayed as another by the same node key.
 */
export const JOB_SIGNING_DOMAIN = 'horus/v1/job'
export const RESULT_SIGNING_DOMAIN = 'horus/v1/result'
export const SUBMISSION_SIGNING_DOMAIN = 'horus/v1/submission'
export const TRIGGER_SIGNING_DOMAIN = 'horus/v1/trigger'

/**
 * How long a signed submission or trigger registration may be presented after it was signed. Its
 * expiry is checked only where it is presented; the run's jobs carry it for the run's whole life.
 * @default 10 minutes
 */
export const DEFAULT_SUBMISSION_TTL_MS = 10 * 60_000

/** Authority signatures a verifier remembers as valid (a run's jobs all carry the same one). */
export const AUTHORITY_CACHE_SIZE = 1024

/** Gossip topic prefix for job announcements; the capability name follows. */
export const JOB_TOPIC_PREFIX = 'horus/v1/jobs/'

/** Valid jobs a single gossip publisher may announce per second. @default 50 */
export const DEFAULT_GOSSIP_RATE_PER_SECOND = 50

/** Burst of valid announcements allowed above the steady rate. @default 100 */
export const DEFAULT_GOSSIP_BURST = 100

/** Publishers tracked by the gossip rate limiter before idle (full) buckets are swept. */
export const GOSSIP_RATE_LIMITER_MAX_TRACKED = 10_000

/**
 * How often expired `(submitter, nonce)` entries are removed from the replay cache. New claims drop
 * the expired head as they come, but an idle node claims nothing: its last window of nonces waited
 * up to this long to leave memory (BENCHMARKS.md, memory, fifth session). A sweep of the map is
 * ~1 ms per 20,000 entries. @default 5 seconds
 */
export const DEFAULT_REPLAY_PRUNE_INTERVAL_MS = 5_000

/** Datastore prefix of the replay cache. */
export const REPLAY_CACHE_PREFIX = '/horus/replay'

/** Quiet time after the last file-system event before the trust policy file is re-read. @default 100 ms */
export const DEFAULT_TRUST_RELOAD_DEBOUNCE_MS = 100

/** Public keys kept as imported `node:crypto` KeyObjects, so verifying a known key skips re-import. */
export const NODE_KEY_CACHE_SIZE = 1024
