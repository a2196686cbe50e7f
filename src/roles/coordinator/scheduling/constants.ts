/** Steps of one run in flight at once, unless the caller says otherwise. @default 128 */
export const DEFAULT_RUN_CONCURRENCY = 128

/** `type` of the error recorded when an attempt runs past its timeout. */
export const TIMEOUT_ERROR_TYPE = 'StepTimeout'

/** `type` of the error recorded on a workflow step when one of its children failed. */
export const CHILD_FAILED_ERROR_TYPE = 'ChildStepFailed'

/**
 * Deepest job result recorded; a deeper one is recorded as a non-retryable `InvalidResult` failure,
 * so nothing is written locally that peers would refuse to merge.
 * @default 64
 */
export const MAX_RESULT_DEPTH = 64

/** Longest error message or log line recorded; longer ones are truncated. @default 16_384 */
export const MAX_MESSAGE_LENGTH = 16_384

/** `type` of the failure recorded for a result that cannot be stored. */
export const INVALID_RESULT_ERROR_TYPE = 'InvalidResult'

/** `type` of the error recorded on a `for_each` step when a child failed. */
export const MAP_ITEM_FAILED_ERROR_TYPE = 'MapItemFailed'

/** `type` of the error recorded when a `for_each` expression does not yield a usable list. */
export const MAP_INVALID_ERROR_TYPE = 'ForEachInvalid'

/** `type` of the error recorded when a signal did not arrive within the step's `timeout`. */
export const SIGNAL_TIMEOUT_ERROR_TYPE = 'SignalTimeout'

/** `type` of the run's error when it ran past its `timeout`. */
export const RUN_TIMEOUT_ERROR_TYPE = 'RunTimeout'

/** Most children of one `for_each` step. @default 100_000 */
export const DEFAULT_MAX_MAP_ITEMS = 100_000
