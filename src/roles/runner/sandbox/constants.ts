/**
 * Defaults for one script run. Each is a ceiling a hostile script can reach, so each is small
 * enough that a runner survives `concurrency` scripts reaching it at once.
 */

/**
 * @default 64 MiB — the QuickJS heap of one run. Enforced by capping the WebAssembly memory of the
 * run's instance: this QuickJS build cannot measure allocation sizes, so `runtime.setMemoryLimit`
 * alone would let large strings through.
 */
export const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024

/** @default 10_000 ms — time spent executing inside the VM; time waiting on host calls is not counted. */
export const DEFAULT_CPU_TIME_MS = 10_000

/** @default 60_000 ms — wall-clock ceiling for a whole run, host calls included. */
export const DEFAULT_WALL_TIME_MS = 60_000

/** @default 256 KiB — the QuickJS stack (≈ 1,000 nested script calls). */
export const DEFAULT_MAX_STACK_BYTES = 256 * 1024

/** @default 1 MiB — JSON of the script's result. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024

/**
 * @default 16 MiB — the JSON of one host call's arguments, and of its reply. Replies are
 * serialised on the node's main thread (where libp2p runs), so this bounds the memory and time one
 * call can cost the node; it leaves room for the largest HTTP body (10 MiB) and file (10 MiB)
 * the system operations read.
 */
export const DEFAULT_MAX_HOST_CALL_BYTES = 16 * 1024 * 1024

/** @default 4 KiB — one `console.log` line; longer lines are cut and marked. */
export const DEFAULT_MAX_LOG_LINE_BYTES = 4 * 1024

/** @default 256 KiB — all `console.log` output of one run; later lines are dropped after one marker. */
export const DEFAULT_MAX_LOG_BYTES = 256 * 1024

/** @default 4 — idle sandbox workers kept for reuse (one is needed per concurrent script). */
export const DEFAULT_MAX_IDLE_WORKERS = 4

/**
 * WebAssembly memory the QuickJS build needs besides the script heap (static data, C stack); the
 * instance's memory is capped at this plus the run's memory limit.
 */
export const WASM_BASE_MEMORY_BYTES = 16 * 1024 * 1024

/** Native stack of a sandbox worker thread; QuickJS's own stack limit must fit well inside it. */
export const WORKER_STACK_MB = 8

/** V8 heap of a sandbox worker (host-side copies of inputs, outputs and log lines). */
export const WORKER_HEAP_MB = 256

/** How long a stopped run may take to unwind before its worker is terminated. */
export const STOP_GRACE_MS = 1_000

/** The file name QuickJS reports in stack traces; error lines are read from it. */
export const SCRIPT_FILE_NAME = 'job.js'

/** The file name of kind preludes, kept apart so they never shift the script's line numbers. */
export const PRELUDE_FILE_NAME = 'prelude.js'
