import { HorusError } from '../../../core/errors.js'

/** A job update or action names a step the workflow does not have. */
export class UnknownStepError extends HorusError {
  static override readonly code = 'STEP_UNKNOWN'

  constructor(run: string, step: string) {
    super(`run "${run}" has no step "${step}"`)
  }
}

/** The run state lacks its creation record (definition and inputs) — it only received deltas so far. */
export class RunNotCreatedError extends HorusError {
  static override readonly code = 'RUN_NOT_CREATED'

  constructor(run: string) {
    super(`run "${run}" has no creation record yet (its definition and inputs have not arrived)`, {
      retryable: true,
    })
  }
}

/** A rerun was asked of a run that has not finished (retry applies to completed, failed or cancelled runs). */
export class RunNotFinishedError extends HorusError {
  static override readonly code = 'RUN_NOT_FINISHED'

  constructor(run: string, status: string) {
    super(`run "${run}" is ${status}: only a completed, failed or cancelled run can be retried`)
  }
}

/** A rerun would run nothing again: no step failed, was cancelled or skipped (name steps to force them). */
export class NothingToRetryError extends HorusError {
  static override readonly code = 'NOTHING_TO_RETRY'

  constructor(run: string) {
    super(
      `run "${run}" has no failed, cancelled or skipped step to run again (name steps to run them again anyway)`,
    )
  }
}

/** A signal no step of the run waits for. */
export class UnknownSignalError extends HorusError {
  static override readonly code = 'SIGNAL_UNKNOWN'

  constructor(run: string, name: string, known: Iterable<string>) {
    const names = [...known]
    super(
      `run "${run}" has no step waiting for signal "${name}" (${names.length === 0 ? 'it waits for no signal' : `it waits for: ${names.join(', ')}`})`,
    )
  }
}

/** A signal of this name was already delivered to the run; a name is delivered once. */
export class SignalAlreadyDeliveredError extends HorusError {
  static override readonly code = 'SIGNAL_ALREADY_DELIVERED'

  constructor(run: string, name: string, at: string) {
    super(`signal "${name}" was already delivered to run "${run}" (at ${at})`)
  }
}

/** A signal's data is not a JSON value the run can store. */
export class SignalDataInvalidError extends HorusError {
  static override readonly code = 'SIGNAL_DATA_INVALID'

  constructor(problem: string) {
    super(`signal data: ${problem}`)
  }
}

/** Items were asked of a step that is not a `for_each` step. */
export class StepNotMappedError extends HorusError {
  static override readonly code = 'STEP_NOT_MAPPED'

  constructor(run: string, step: string) {
    super(`step "${step}" of run "${run}" is not a for_each step: it has no items`)
  }
}
