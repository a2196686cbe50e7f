/** Where the gateway serves the Prometheus text exposition. */
export const METRICS_PATH = '/metrics'

/** Every metric this node exports starts with this. */
export const METRIC_PREFIX = 'horus_'

/** Step attempt durations, seconds: from a quick function call to an hour-long job. */
export const STEP_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

/** RPC handling time, seconds. */
export const RPC_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/**
 * Attempts whose dispatch was seen and whose end was not yet: enough for every attempt in flight
 * on a busy coordinator; past it the oldest are forgotten (their duration is then not observed).
 */
export const MAX_TRACKED_ATTEMPTS = 10_000
