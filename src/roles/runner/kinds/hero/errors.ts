import { HorusError } from '../../../../core/errors.js'

/** A heroscript payload cannot be run: bad syntax, unknown action, or bad parameters. */
export class HeroscriptParseError extends HorusError {
  static override readonly code = 'HEROSCRIPT_INVALID'
  readonly line: number
  readonly column: number
  readonly reason: string

  constructor(reason: string, line: number, column: number) {
    super(`heroscript line ${line}, column ${column}: ${reason}`)
    this.reason = reason
    this.line = line
    this.column = column
  }
}
