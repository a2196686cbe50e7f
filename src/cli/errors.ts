import { HorusError } from '../core/errors.js'

/** The command line itself is wrong (unknown command, missing argument, bad flag). */
export class UsageError extends HorusError {
  static override readonly code: string = 'USAGE'
}

/** Process exit codes, documented in `horus --help`. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
} as const
