/** Defaults of the system operations jobs can use. */

/** @default 30_000 ms — a command without its own timeout. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000

/** @default 1 MiB — kept of each of a command's stdout and stderr; the rest is dropped and marked. */
export const DEFAULT_MAX_COMMAND_OUTPUT_BYTES = 1024 * 1024

/** @default 30_000 ms — an HTTP request without its own timeout. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000

/** @default 10 MiB — largest HTTP response body read. */
export const DEFAULT_MAX_HTTP_RESPONSE_BYTES = 10 * 1024 * 1024

/** @default 10 MiB — largest file `fs.read` returns. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024

/**
 * Variables a command inherits from the runner's own environment; everything else in the runner's
 * environment (credentials, tokens) stays out of jobs. The job's `env` is added on top.
 */
export const INHERITED_ENV = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const
