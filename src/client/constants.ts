/**
 * How long a single call may take when the caller gives no signal or timeout.
 * @default 30_000
 */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000

/**
 * How long to wait for a node to answer `node.info` before trying the next candidate.
 * @default 5_000
 */
export const PROBE_TIMEOUT_MS = 5_000

/**
 * How long the DHT may take to answer `mesh.find_providers` during discovery; heartbeats
 * (`mesh.liveness`) usually answer first.
 * @default 5_000
 */
export const FIND_PROVIDERS_TIMEOUT_MS = 5_000

/**
 * A node that stopped answering is not tried again for this long (unless nothing else is left).
 * @default 10_000
 */
export const FAILED_PEER_COOLDOWN_MS = 10_000

/**
 * `waitForCompletion` re-reads the run this often even when events arrive, so a missed event
 * (a coordinator failover, a gossip gap) delays it by at most this long.
 * @default 1_000
 */
export const STATUS_POLL_INTERVAL_MS = 1_000

/**
 * Pause before re-subscribing to events after the subscription's node went away.
 * @default 250
 */
export const RESUBSCRIBE_DELAY_MS = 250

/**
 * The longest pause between re-subscription attempts while no node answers (the pause doubles).
 * @default 5_000
 */
export const MAX_RESUBSCRIBE_DELAY_MS = 5_000

/**
 * `waitForJob` asks the supervisor to hold each call at most this long, so a lost connection is
 * noticed and retried within it.
 * @default 20_000
 */
export const JOB_WAIT_CHUNK_MS = 20_000

/**
 * How long the client keeps its entry node's trust decisions (`node.trust_decide`) before asking
 * again, so a policy change on the node reaches the client within this long.
 * @default 10_000
 */
export const TRUST_DECISION_TTL_MS = 10_000

/**
 * Jobs this client created whose digest it remembers (about 200 bytes each), so their results are
 * checked without fetching and verifying the envelope again. @default 50_000
 */
export const REMEMBERED_JOBS = 50_000

/**
 * Calls on the wire to one node at once; more wait in the client. Below the node's per-peer cap
 * (64), so the client's own probes and look-ups are never refused as too many.
 * @default 48
 */
export const CLIENT_MAX_IN_FLIGHT = 48

/**
 * How often one node is asked again: while it answers "too many requests", or — for a call it
 * alone may repeat safely (a signed job) — after the answer was lost. The pause doubles.
 * @default 4
 */
export const SAME_NODE_RETRIES = 4

/** The first pause before asking the same node again. @default 250 */
export const SAME_NODE_RETRY_MS = 250

/**
 * Job outcomes that came on a supervisor's outcome stream before anyone waited for them, kept
 * per supervisor (about 1 KiB each); past it the oldest is dropped and its `waitForJob` asks the
 * supervisor instead. @default 10_000
 */
export const MAX_UNCLAIMED_OUTCOMES = 10_000
