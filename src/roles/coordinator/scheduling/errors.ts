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
