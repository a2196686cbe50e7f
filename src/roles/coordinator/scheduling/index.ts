/**
 * Scheduling: pure decisions over a compiled workflow and a run's replicated state. The coordinator
 * service drives it: `createRun`, then loop { `plan` → `commitAction` each action (and send the
 * dispatched jobs) → `recordJobUpdate` as supervisors report } until `plan` finishes the run.
 * No I/O, no clock, no randomness of its own.
 */

export {
  CHILD_FAILED_ERROR_TYPE,
  DEFAULT_RUN_CONCURRENCY,
  INVALID_RESULT_ERROR_TYPE,
  MAX_MESSAGE_LENGTH,
  MAX_RESULT_DEPTH,
  TIMEOUT_ERROR_TYPE,
} from './constants.js'
export { RunNotCreatedError, UnknownStepError } from './errors.js'
export { jobIdOf, obsoleteJobs, parseJobId } from './jobs.js'
export { describeRun, plan, runStatus } from './plan.js'
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
export {
  type CancelAction,
  type CancelReason,
  type CompleteAction,
  type DispatchAction,
  type FailAction,
  type FinishAction,
  type Plan,
  type PlanAction,
  type PlanLimits,
  type RetryAction,
  type RunFailure,
  type RunReport,
  type RunStatus,
  type SkipAction,
  type SkipReason,
  type StepReport,
  type StepStatus,
  TERMINAL_RUN_STATUSES,
  type TimeoutAction,
} from './types.js'
