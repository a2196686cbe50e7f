/**
 * Replicated run state: the per-run CRDT coordinators gossip on `horus/v1/state`, repair by
 * anti-entropy, and persist in the datastore. Pure data types: no libp2p here; the coordinator
 * service moves deltas and digests over the wire. See README.md for the semantics.
 */

export { decodeRunStateJson, type RunStateJson } from './codec.js'
export {
  DEFAULT_DECODE_LIMITS,
  DEFAULT_LEASE_GRACE_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_CLOCK_DRIFT_MS,
  DEFAULT_STATE_PREFIX,
  DIGEST_BUCKETS,
  RUN_ID_PATTERN,
  STATE_ENCODING_VERSION,
  type StateDecodeLimits,
} from './constants.js'
export { bucketOf, decodeDigest, type RunDigest } from './digest.js'
export {
  HlcDriftError,
  HlcFormatError,
  InvalidRunIdError,
  RunMismatchError,
  StateDecodeError,
  type StateIssue,
} from './errors.js'
export {
  compareHlc,
  formatHlc,
  Hlc,
  type HlcInit,
  type HlcTimestamp,
  hlcNode,
  hlcWall,
  isHlcString,
  parseHlc,
} from './hlc.js'
export {
  describeValue,
  isPlainObject,
  type JsonObject,
  type JsonPrimitive,
  type JsonValue,
  jsonEqual,
  jsonValueProblem,
} from './json-value.js'
export {
  type CancelRecord,
  compareCancels,
  compareReruns,
  compareStepEntries,
  isTerminalPhase,
  type LeaseRecord,
  LOG_SEVERITIES,
  type LogEntry,
  type LogSeverity,
  type PausedRecord,
  type RerunRecord,
  type RunMeta,
  type SignalRecord,
  STEP_PHASES,
  type StepEntry,
  type StepError,
  type StepPhase,
  TERMINAL_PHASES,
} from './lattice.js'
export { type LeaseOptions, type LeaseView, leaseHolder, renewLease, takeOverLease } from './lease.js'
export { assertRunId, type CreateRunInit, RunState } from './run-state.js'
export { StateStore, type StateStoreInit } from './state-store.js'
