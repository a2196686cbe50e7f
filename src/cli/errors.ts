import { HorusError } from '../core/errors.js'

/** The command line itself is wrong (unknown command, missing argument, bad flag). */
export class UsageError extends HorusError {
  static override readonly code: string = 'USAGE'
}

/** The node named with --peer could not be reached; the message says why when it is known. */
export class PeerUnreachableError extends HorusError {
  static override readonly code: string = 'PEER_UNREACHABLE'

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retryable: true, ...options })
  }
}

/** Process exit codes, documented in `horus --help`. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
} as const
