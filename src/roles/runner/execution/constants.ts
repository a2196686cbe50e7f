/** Defaults of the job executor. */

/** @default 4 — jobs running at once. */
export const DEFAULT_CONCURRENCY = 4

/** @default 1_000 — jobs waiting for a slot; beyond this `execute` rejects with `RunnerBusyError`. */
export const DEFAULT_MAX_QUEUE_LENGTH = 1_000

/** @default 3_600_000 — the longest `timeoutMs` a job may ask for. */
export const DEFAULT_MAX_TIMEOUT_MS = 3_600_000

/** @default 4 KiB — one log line. */
export const DEFAULT_MAX_LOG_LINE_BYTES = 4 * 1024

/** @default 1 MiB — all log lines of one job. */
export const DEFAULT_MAX_LOG_BYTES = 1024 * 1024

/** @default 10_000 — finished results remembered so a repeated job id is answered, not re-run. */
export const DEFAULT_RESULT_CACHE_SIZE = 10_000

/**
 * @default 2_000 ms — after a job is timed out or cancelled, how long its handler may take to
 * return before its concurrency slot is given to the next job anyway.
 */
export const DEFAULT_ABORT_GRACE_MS = 2_000

/**
 * @default 256 MiB — JSON size of a handler's output. Outputs over the result's inline limit
 * (256 KiB) travel as blobs, so this only bounds what one job may hold in memory.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024

/**
 * @default 1 MiB — outputs up to this size are kept in the executor's result cache; a larger
 * one is answered from the runner's persisted result store instead of being held in memory.
 */
export const MAX_CACHED_OUTPUT_BYTES = 1024 * 1024
