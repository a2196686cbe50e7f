/** The JSON-RPC errors of `runner.execute` (and of each refused job of `runner.execute_many`). */
import type { ErrorSpec } from '../../../protocols/rpc/index.js'

export const RUNNER_ERROR_SPECS: ErrorSpec[] = [
  { name: 'JobRejectedError', code: -32030, message: 'the job failed verification (reason in the message)' },
  { name: 'UnknownKindError', code: -32031, message: 'this runner does not serve the job’s capability' },
  { name: 'RunnerBusyError', code: -32032, message: 'the runner’s queue is full; retry later or elsewhere' },
  {
    name: 'RunnerStoppingError',
    code: -32033,
    message: 'the runner is stopping; the job did not finish here',
  },
  {
    name: 'InvalidJobError',
    code: -32034,
    message: 'the job cannot be executed as given (e.g. timeout too long)',
  },
  { name: 'ExecutorNotRunningError', code: -32035, message: 'the executor is not running' },
  {
    name: 'SecretNotRecipientError',
    code: -32036,
    message: 'the job carries secrets not sealed to this runner; only their recipients can run it',
  },
  { name: 'SecretOpenError', code: -32037, message: 'a secret of the job does not decrypt here' },
]
