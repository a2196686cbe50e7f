import { HorusError } from '../../core/errors.js'

/** One problem found in remote or stored run state, with where it is. */
export interface StateIssue {
  readonly path: string
  readonly message: string
}

/**
 * Run state from a peer or from disk is malformed. Remote input is never trusted: the whole delta
 * is refused and nothing of it is merged.
 */
export class StateDecodeError extends HorusError {
  static override readonly code = 'STATE_DECODE_FAILED'
  readonly issues: readonly StateIssue[]

  constructor(issues: readonly StateIssue[], cause?: unknown) {
    const shown = issues.slice(0, 10).map((issue) => `${issue.path}: ${issue.message}`)
    if (issues.length > shown.length) shown.push(`... and ${issues.length - shown.length} more`)
    super(`invalid run state:\n  ${shown.join('\n  ')}`, { cause })
    this.issues = issues
  }
}

/** Two states of different runs were merged; that is a caller bug, not a conflict to resolve. */
export class RunMismatchError extends HorusError {
  static override readonly code = 'STATE_RUN_MISMATCH'

  constructor(expected: string, got: string) {
    super(`cannot merge state of run "${got}" into run "${expected}"`)
  }
}

/** An HLC string does not have the `wall-counter-node` shape. */
export class HlcFormatError extends HorusError {
  static override readonly code = 'HLC_INVALID'

  constructor(value: string, reason: string) {
    super(`invalid HLC timestamp ${JSON.stringify(value.slice(0, 80))}: ${reason}`)
  }
}

/** A remote clock is further ahead of ours than the configured drift allows. */
export class HlcDriftError extends HorusError {
  static override readonly code = 'HLC_DRIFT'

  constructor(remoteWall: number, localWall: number, maxDriftMs: number) {
    super(
      `remote clock is ${remoteWall - localWall} ms ahead of the local clock (more than ${maxDriftMs} ms allowed)`,
    )
  }
}

/** A run id cannot be used (it must fit datastore keys and job ids). */
export class InvalidRunIdError extends HorusError {
  static override readonly code = 'RUN_ID_INVALID'

  constructor(run: string) {
    super(`invalid run id ${JSON.stringify(run.slice(0, 80))}: expected 1-128 of A-Z a-z 0-9 _ . : -`)
  }
}
