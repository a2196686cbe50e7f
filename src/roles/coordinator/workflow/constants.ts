/** Runner kinds every node knows (the seeds' three); custom kinds are added by the caller. */
export const DEFAULT_RUNNER_KINDS: readonly string[] = ['hero', 'sal', 'osiris']

/**
 * Attempts of a step with a `retry` block that does not say `max_attempts`. A step without a
 * `retry` block runs once.
 * @default 3
 */
export const DEFAULT_MAX_ATTEMPTS = 3

/** @default 1_000 (ms) */
export const DEFAULT_INITIAL_DELAY_MS = 1_000

/** @default 2 */
export const DEFAULT_BACKOFF_BASE = 2

/** When `max_delay` is absent it is this many times `initial_delay` (Temporal's default). @default 100 */
export const DEFAULT_MAX_DELAY_FACTOR = 100

/** Fraction of each delay that is randomised; 0 keeps delays exact. @default 0 */
export const DEFAULT_JITTER = 0

/** Steps after expanding every composition; guards against a small file that expands exponentially. @default 1_000_000 */
export const DEFAULT_MAX_STEPS = 1_000_000

/** How deep workflow steps may nest. @default 16 */
export const MAX_COMPOSITION_DEPTH = 16

/** Step ids, input and output names: they are used in expressions, job ids and `input.<id>`. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/

/** Longest expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 4_096

/** Deepest nesting of parentheses and `!` in an expression. */
export const MAX_EXPRESSION_NESTING = 64

/** Deepest nesting of a payload, default or literal value. */
export const MAX_VALUE_DEPTH = 64

/** Errors listed in a `WorkflowValidationError` message (all of them are in `.issues`). */
export const MAX_ISSUES_IN_MESSAGE = 50

/** Trigger rules a step may name (Airflow's); the first is the default. */
export const TRIGGER_RULES = [
  'all_success',
  'all_done',
  'all_failed',
  'one_failed',
  'one_success',
  'none_failed',
  'always',
] as const

/** Environment variable names a step may set. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Entries of one step's `env`. */
export const MAX_ENV_ENTRIES = 64

/** Signal names (`wait_for_signal`), as they appear in `coordinator.signal_workflow`. */
export const SIGNAL_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/
