import { HorusError } from '../node/errors.js'

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

/** libp2p dial failures, HTTP connection failures and closed sessions: the node is not there. */
const UNREACHABLE_NAMES = new Set([
  'DialError',
  'ConnectionFailedError',
  'NoValidAddressesError',
  'UnsupportedProtocolError',
  'EncryptionFailedError',
  'UnavailableError',
  'ConnectionClosedError',
])
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT'])

export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (UNREACHABLE_NAMES.has(err.name)) return true
  const code = (err as { code?: unknown }).code
  if (code === -32006 || code === -32007) return true
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true
  return err.cause !== undefined && err.cause !== err && isUnreachable(err.cause)
}
