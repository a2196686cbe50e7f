/** Version of the run-state JSON encoding; a decoder rejects any other. */
export const STATE_ENCODING_VERSION = 1

/**
 * How far ahead of the local wall clock a remote HLC may be before `Hlc.receive` refuses it: a
 * peer with a broken clock must not drag every coordinator's clock into the future.
 * @default 60_000
 */
export const DEFAULT_MAX_CLOCK_DRIFT_MS = 60_000

/** Counter values per millisecond before an HLC borrows the next millisecond. */
export const HLC_MAX_COUNTER = 999_999

/** Number of digest buckets anti-entropy compares; a differing bucket is resent whole. */
export const DIGEST_BUCKETS = 64

/** Limits a decoder applies to remote run state (deltas, snapshots, anti-entropy replies). */
export interface StateDecodeLimits {
  /** @default 1_000_000 */
  maxSteps?: number
  /** @default 1_000_000 */
  maxLogEntries?: number
  /**
   * Maximum nesting of results, inputs and event data. Above the scheduler's own limit on job
   * results (64), because a workflow step's output wraps its children's.
   * @default 128
   */
  maxDepth?: number
  /** Maximum length of ids, reasons, owners and messages. @default 65_536 */
  maxStringLength?: number
  /** Maximum nesting of the stored workflow document (compositions nest deeply). @default 1_024 */
  maxDefinitionDepth?: number
}

export const DEFAULT_DECODE_LIMITS: Required<StateDecodeLimits> = {
  maxSteps: 1_000_000,
  maxLogEntries: 1_000_000,
  maxDepth: 128,
  maxStringLength: 65_536,
  maxDefinitionDepth: 1_024,
}

/** Prefix of run-state keys in the node's datastore. */
export const DEFAULT_STATE_PREFIX = '/horus/state/runs'

/** Run ids are used in datastore keys and in job ids (`run/step/attempt`), so no `/`. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/

/**
 * How long a coordinator's lease on a run lasts unless renewed; the owner renews well before
 * (e.g. every third of it).
 * @default 15_000
 */
export const DEFAULT_LEASE_TTL_MS = 15_000

/**
 * How long past a lease's expiry another coordinator waits before taking over, to absorb clock skew
 * between the owner and the taker.
 * @default 2_000
 */
export const DEFAULT_LEASE_GRACE_MS = 2_000
