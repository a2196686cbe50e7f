import { ConfigError, HorusError } from '../../../core/errors.js'
import { SecretNotRecipientError, SecretOpenError } from '../../../protocols/jobs/secrets.js'
import {
  ExecutorNotRunningError,
  InvalidJobError,
  JobCancelledError,
  RunnerBusyError,
  UnknownKindError,
} from '../execution/errors.js'

/** The runner is stopping: the job was not finished here and may go to another runner. */
export class RunnerStoppingError extends HorusError {
  static override readonly code = 'RUNNER_STOPPING'

  constructor() {
    super('runner is stopping', { retryable: true })
  }
}

/** A job's blob input could not be fetched, verified or read (retryable: a source may come back). */
export class BlobInputError extends HorusError {
  static override readonly code = 'BLOB_INPUT_UNAVAILABLE'

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retryable: true, ...options })
  }
}

/** The `runner:` section of the node config or the runner options are invalid. */
export class RunnerConfigError extends ConfigError {
  static override readonly code = 'RUNNER_CONFIG_INVALID'
}

/** Errors `runner.*` methods answer with, for clients to rebuild by name. */
export const RUNNER_ERRORS = [
  RunnerStoppingError,
  RunnerBusyError,
  ExecutorNotRunningError,
  UnknownKindError,
  InvalidJobError,
  JobCancelledError,
  SecretNotRecipientError,
  SecretOpenError,
] as const
