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

  constructor(jobId: string) {
    super(`job id ${JSON.stringify(jobId)} is already used by a different job`)
  }
}

/** The supervisor is not started, or is stopping. */
export class SupervisorNotRunningError extends HorusError {
  static override readonly code = 'SUPERVISOR_NOT_RUNNING'

  constructor() {
    super('supervisor is not running', { retryable: true })
  }
}

/** Errors `supervisor.*` methods answer with, for clients to rebuild by name (plus JobRejectedError). */
export const SUPERVISOR_ERRORS = [JobNotFoundError, JobIdConflictError, SupervisorNotRunningError] as const
