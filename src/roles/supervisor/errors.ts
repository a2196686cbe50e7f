import { HorusError } from '../../core/errors.js'

/** No job with that id was accepted by this supervisor. */
export class JobNotFoundError extends HorusError {
  static override readonly code = 'JOB_NOT_FOUND'

  constructor(jobId: string) {
    super(`no job ${JSON.stringify(jobId)} on this supervisor`)
  }
}

/** A job id that is already taken by a different job (another nonce or submitter). */
export class JobIdConflictError extends HorusError {
  static override readonly code = 'JOB_ID_CONFLICT'

  constructor(jobId: string, why = 'is already used by a different job') {
    super(`job id ${JSON.stringify(jobId)} ${why}`)
  }
}

/** The supervisor is not started, or is stopping. */
export class SupervisorNotRunningError extends HorusError {
  static override readonly code = 'SUPERVISOR_NOT_RUNNING'

  constructor() {
    super('supervisor is not running', { retryable: true })
  }
}

/**
 * `no_runner`: no live runner offers the job's capability, and the caller did not ask to wait for
 * one (`waitForRunner`). Nothing was recorded: the same job may be sent again.
 */
export class NoRunnerError extends HorusError {
  static override readonly code = 'NO_RUNNER'
  readonly capability: string
  readonly available: readonly string[]

  constructor(capability: string, available: readonly string[]) {
    super(
      `no_runner: no live runner offers capability ${JSON.stringify(capability)} (available: ${
        available.length === 0 ? 'none' : available.join(', ')
      }); send it with waitForRunner to queue it until one appears`,
    )
    this.capability = capability
    this.available = available
  }

  /** Sent beside the message, so a client gets both lists without parsing it. */
  get wireData(): { capability: string; available: readonly string[] } {
    return { capability: this.capability, available: this.available }
  }
}

/** Errors `supervisor.*` methods answer with, for clients to rebuild by name (plus JobRejectedError). */
export const SUPERVISOR_ERRORS = [
  JobNotFoundError,
  JobIdConflictError,
  SupervisorNotRunningError,
  NoRunnerError,
] as const
