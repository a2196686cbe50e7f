import { HorusError } from '../../../core/errors.js'

/** The runner's queue is full; try another runner or later. */
export class RunnerBusyError extends HorusError {
  static override readonly code = 'RUNNER_BUSY'

  constructor(queued: number) {
    super(`runner busy: ${queued} jobs already queued`, { retryable: true })
  }
}

/** The executor is not started (or is stopping). */
export class ExecutorNotRunningError extends HorusError {
  static override readonly code = 'EXECUTOR_NOT_RUNNING'

  constructor() {
    super('job executor is not running', { retryable: true })
  }
}

/** The job does not have the shape of an executable job. */
export class InvalidJobError extends HorusError {
  static override readonly code = 'JOB_INVALID'
}

/** No handler is registered for the job's `runner` kind. */
export class UnknownKindError extends HorusError {
  static override readonly code = 'KIND_UNKNOWN'

  constructor(kind: string, known: readonly string[]) {
    super(`no runner kind ${JSON.stringify(kind)} here (known: ${known.join(', ') || 'none'})`)
  }
}

/** A kind name is already taken, or is not a valid name. */
export class KindRegistrationError extends HorusError {
  static override readonly code = 'KIND_REGISTRATION_INVALID'
}

/** The job ran past its `timeoutMs`. Retrying may succeed (the attempt may have been slow). */
export class JobTimeoutError extends HorusError {
  static override readonly code = 'JOB_TIMEOUT'

  constructor(timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`, { retryable: true })
  }
}

/** The job was cancelled before it finished. */
export class JobCancelledError extends HorusError {
  static override readonly code = 'JOB_CANCELLED'

  constructor(reason?: string) {
    super(reason === undefined ? 'job cancelled' : `job cancelled: ${reason}`)
  }
}

/** A registered function's name is invalid or taken. */
export class FunctionRegistrationError extends HorusError {
  static override readonly code = 'FUNCTION_REGISTRATION_INVALID'
}

/** A handler returned a value that cannot cross the wire as JSON. */
export class JobOutputError extends HorusError {
  static override readonly code = 'JOB_OUTPUT_INVALID'
}
