/**
 * The coordinator's errors. Workflow problems travel to clients with their `issues` (every
 * problem with its path), which a HorusError cannot carry over the wire, so they are turned into
 * RpcErrors with that data at the RPC boundary (`toWireError`).
 */
import { HorusError } from '../../../core/errors.js'
import type { ErrorSpec } from '../../../protocols/rpc/errors.js'
import { RpcError } from '../../../protocols/rpc/errors.js'
import { WorkflowInputError, WorkflowParseError, WorkflowValidationError } from '../workflow/errors.js'

/** No run with that id on this coordinator (nor, after asking, on the coordinators it knows). */
export class RunNotFoundError extends HorusError {
  static override readonly code = 'RUN_NOT_FOUND'

  constructor(runId: string) {
    super(`no run ${JSON.stringify(runId)}`)
  }
}

/**
 * The run finished longer ago than the retention period and was garbage-collected: only its id and
 * when it finished and expired are kept (`finishedAt`, `expiredAt`, ms epoch).
 */
export class RunExpiredError extends HorusError {
  static override readonly code = 'RUN_EXPIRED'
  readonly finishedAt: number
  readonly expiredAt: number

  constructor(runId: string, finishedAt: number, expiredAt: number) {
    super(
      `run ${JSON.stringify(runId)} finished at ${new Date(finishedAt).toISOString()} and was removed at ${new Date(expiredAt).toISOString()} (older than the retention period)`,
    )
    this.finishedAt = finishedAt
    this.expiredAt = expiredAt
  }
}

/** Pause, resume or cancel of a run that already finished. */
export class RunFinishedError extends HorusError {
  static override readonly code = 'RUN_FINISHED'

  constructor(runId: string, status: string) {
    super(`run ${JSON.stringify(runId)} already finished (${status})`)
  }
}

/** A run id given by the caller is already taken by another run. */
export class RunExistsError extends HorusError {
  static override readonly code = 'RUN_EXISTS'

  constructor(runId: string) {
    super(`a run ${JSON.stringify(runId)} already exists`)
  }
}

/** Why a signed submission or trigger registration was refused; stable, sent in `data.reason`. */
export type SubmissionRejectReason =
  | 'required'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'digest_mismatch'
  | 'submitter_mismatch'
  | 'untrusted_key'

/** A signed submission (or trigger registration) does not hold: see `reason`. */
export class SubmissionRejectedError extends HorusError {
  static override readonly code = 'SUBMISSION_REJECTED'
  readonly reason: SubmissionRejectReason

  constructor(reason: SubmissionRejectReason, message: string) {
    super(`submission rejected (${reason}): ${message}`)
    this.reason = reason
  }
}

/** The submitter may not use a step's capability; `step` is the step's path and id. */
export class CapabilityDeniedError extends HorusError {
  static override readonly code = 'CAPABILITY_DENIED'
  readonly reason = 'capability_denied'
  readonly step: string
  readonly capability: string

  constructor(step: string, capability: string, message: string) {
    super(`${step}: ${message}`)
    this.step = step
    this.capability = capability
  }
}

/** The caller is neither the run's submitter nor an admin. */
export class RunAccessDeniedError extends HorusError {
  static override readonly code = 'RUN_ACCESS_DENIED'
  readonly reason = 'not_submitter'

  constructor(runId: string, action: string, key: string | undefined) {
    super(
      `${action} of run ${JSON.stringify(runId)} refused: key ${key ?? '(unknown)'} is neither the run's submitter nor trusted as admin`,
    )
  }
}

/** The run has no signed authority (stored before submissions were signed): nothing to export. */
export class RunNotExportableError extends HorusError {
  static override readonly code = 'RUN_NOT_EXPORTABLE'

  constructor(runId: string, why: string) {
    super(`run ${JSON.stringify(runId)} cannot be exported: ${why}`)
  }
}

/** A trigger definition is invalid (bad name, schedule or kind). */
export class TriggerInvalidError extends HorusError {
  static override readonly code = 'TRIGGER_INVALID'
}

/** Only a trigger's registrant or an admin may replace or remove it. */
export class TriggerAccessDeniedError extends HorusError {
  static override readonly code = 'TRIGGER_ACCESS_DENIED'

  constructor(name: string, action: string, key: string | undefined) {
    super(
      `${action} of trigger ${JSON.stringify(name)} refused: only the key that registered it or an admin may (caller ${key ?? 'unknown'})`,
    )
  }
}

/** No trigger of that name (to remove). */
export class TriggerNotFoundError extends HorusError {
  static override readonly code = 'TRIGGER_NOT_FOUND'

  constructor(name: string) {
    super(`no trigger named ${JSON.stringify(name)}`)
  }
}

/** The coordinator is not started, or is stopping. */
export class CoordinatorNotRunningError extends HorusError {
  static override readonly code = 'COORDINATOR_NOT_RUNNING'

  constructor() {
    super('the coordinator is not running', { retryable: true })
  }
}

export const COORDINATOR_ERROR_SPECS: readonly ErrorSpec[] = [
  {
    name: 'WorkflowValidationError',
    code: -32030,
    message: 'the workflow is invalid; data.issues lists { path, message }',
  },
  { name: 'WorkflowParseError', code: -32031, message: 'the workflow text is neither YAML nor JSON' },
  {
    name: 'WorkflowInputError',
    code: -32032,
    message: "the run's inputs do not match the workflow; data.issues",
  },
  { name: 'RunNotFoundError', code: -32033, message: 'no run with that id' },
  { name: 'RunFinishedError', code: -32034, message: 'the run already finished' },
  { name: 'RunExistsError', code: -32035, message: 'the run id is taken' },
  { name: 'TriggerInvalidError', code: -32036, message: 'the trigger definition is invalid' },
  {
    name: 'SubmissionRejectedError',
    code: -32037,
    message: 'the signed submission does not hold; data.reason says why',
  },
  {
    name: 'CapabilityDeniedError',
    code: -32038,
    message: 'the submitter may not use a step’s capability; data.step names it',
  },
  {
    name: 'RunAccessDeniedError',
    code: -32039,
    message: 'only the run’s submitter or an admin may do that',
  },
  {
    name: 'RunNotFinishedError',
    code: -32040,
    message: 'only a completed, failed or cancelled run can be retried',
  },
  {
    name: 'NothingToRetryError',
    code: -32041,
    message: 'no step failed, was cancelled or skipped (name steps)',
  },
  { name: 'UnknownStepError', code: -32042, message: 'the run has no step with that id' },
  { name: 'UnknownSignalError', code: -32043, message: 'no step of the run waits for that signal' },
  {
    name: 'SignalAlreadyDeliveredError',
    code: -32044,
    message: 'that signal was already delivered to the run',
  },
  {
    name: 'SignalDataInvalidError',
    code: -32045,
    message: 'the signal data is not a JSON value the run can store',
  },
  { name: 'StepNotMappedError', code: -32046, message: 'the step is not a for_each step' },
  { name: 'TriggerNotFoundError', code: -32047, message: 'no trigger with that name' },
  {
    name: 'TriggerAccessDeniedError',
    code: -32048,
    message: 'only the trigger’s registrant or an admin may replace or remove it',
  },
  {
    name: 'RunNotExportableError',
    code: -32049,
    message: 'the run has no signed authority to export (stored before submissions were signed)',
  },
  {
    name: 'RunExpiredError',
    code: -32050,
    message:
      'the run finished longer ago than the retention period and was removed; data.finishedAt, data.expiredAt',
  },
]

const CODES = new Map(COORDINATOR_ERROR_SPECS.map((spec) => [spec.name, spec.code ?? -32010]))

/** A HorusError as an RpcError that keeps its name, code and extra data (`issues`) on the wire. */
class CarriedError extends RpcError {
  readonly #code: number

  constructor(err: HorusError, data: Record<string, unknown>) {
    super(err.message, { data: { ...data, code: err.code }, cause: err })
    this.name = err.name
    this.data.name = err.name
    this.data.retryable = err.retryable
    this.#code = CODES.get(err.name) ?? -32010
  }

  override toWire() {
    return { code: this.#code, message: this.message, data: this.data }
  }
}

/** What a handler throws for a coordinator error: workflow errors carry `issues`, the rest as they are. */
export function toRpcError(err: unknown): unknown {
  if (err instanceof WorkflowValidationError || err instanceof WorkflowInputError)
    return new CarriedError(err, { issues: err.issues })
  if (err instanceof WorkflowParseError) {
    const position: Record<string, unknown> = {}
    if (err.line !== undefined) position.line = err.line
    if (err.column !== undefined) position.column = err.column
    return new CarriedError(err, position)
  }
  if (err instanceof SubmissionRejectedError) return new CarriedError(err, { reason: err.reason })
  if (err instanceof CapabilityDeniedError)
    return new CarriedError(err, { reason: err.reason, step: err.step, capability: err.capability })
  if (err instanceof RunAccessDeniedError) return new CarriedError(err, { reason: err.reason })
  if (err instanceof RunExpiredError)
    return new CarriedError(err, { finishedAt: err.finishedAt, expiredAt: err.expiredAt })
  if (err instanceof HorusError && CODES.has(err.name)) return new CarriedError(err, {})
  return err
}
