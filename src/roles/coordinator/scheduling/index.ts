/**
 * Scheduling: pure decisions over a compiled workflow and a run's replicated state. The coordinator
 * service drives it: `createRun`, then loop { `plan` → `commitAction` each action (and send the
 * dispatched jobs) → `recordJobUpdate` as supervisors report } until `plan` finishes the run.
 * No I/O, no clock, no randomness of its own.
 */

export {
  CHILD_FAILED_ERROR_TYPE,
  DEFAULT_MAX_MAP_ITEMS,
  DEFAULT_RUN_CONCURRENCY,
  INVALID_RESULT_ERROR_TYPE,
  MAP_INVALID_ERROR_TYPE,
  MAP_ITEM_FAILED_ERROR_TYPE,
  MAX_MESSAGE_LENGTH,
  MAX_RESULT_DEPTH,
  RUN_TIMEOUT_ERROR_TYPE,
  SIGNAL_TIMEOUT_ERROR_TYPE,
  TIMEOUT_ERROR_TYPE,
} from './constants.js'
export {
  NothingToRetryError,
  RunNotCreatedError,
  RunNotFinishedError,
  SignalAlreadyDeliveredError,
  SignalDataInvalidError,
  UnknownSignalError,
  UnknownStepError,
} from './errors.js'
export { jobIdOf, obsoleteJobs, parseJobId } from './jobs.js'
export { childId, resolveStep } from './map-steps.js'
export { describeRun, plan, runStatus } from './plan.js'
export { type RetryRunOptions, type RetryRunResult, retryRun } from './rerun.js'
export { type SignalRunOptions, signalRun } from './signals.js'
export {
  appendStepLog,
  type CreateRunOptions,
  cancelRun,
  commitAction,
  createRun,
  type JobUpdate,
  recordJobUpdate,
  setRunPaused,
} from './transitions.js'
export { type RuleVerdict, triggerRuleVerdict, type UpstreamCounts } from './trigger-rules.js'
export {
  type CancelAction,
  type CancelReason,
  type CompleteAction,
  type DispatchAction,
  type FailAction,
  type FinishAction,
  type MapItems,
  type Plan,
  type PlanAction,
  type PlanLimits,
  type RetryAction,
  type RunContext,
  type RunFailure,
  type RunReport,
  type RunStatus,
  type SkipAction,
  type SkipReason,
  type StartAction,
  type StepContext,
  type StepReport,
  type StepStatus,
  TERMINAL_RUN_STATUSES,
  type TimeoutAction,
} from './types.js'
