/** Defaults of the osiris kind's storage limits (config `runner.osiris`). */

/** @default 1 MiB — the JSON of one record. */
export const DEFAULT_OSIRIS_MAX_RECORD_BYTES = 1024 * 1024

/** @default 8 MiB — stored bytes of the records one `get`, `list` or `query` returns. */
export const DEFAULT_OSIRIS_MAX_RESULT_BYTES = 8 * 1024 * 1024

/** @default 256 MiB — every osiris key and value of a node together. */
export const DEFAULT_OSIRIS_QUOTA_BYTES = 256 * 1024 * 1024
