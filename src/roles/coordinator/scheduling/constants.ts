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
