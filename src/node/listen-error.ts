import { ConfigError } from '../core/errors.js'

/** The node cannot listen where it was told to (port taken, address not on this host, privileges). */
export class ListenError extends ConfigError {
  static override readonly code = 'LISTEN_FAILED'
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another process listens there: stop it or choose another port)',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied (ports below 1024 need privileges)',
}

/** One line for a socket error: what the errno means, else the error's first line. */
export function listenReason(err: unknown): string {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && REASONS[code] !== undefined) return REASONS[code]
  const match = /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/.exec(String((err as Error).message ?? err))
  if (match?.[1] !== undefined) return REASONS[match[1]] as string
  return String((err as Error).message ?? err).split('\n')[0] ?? 'unknown error'
}

/**
 * libp2p's UnsupportedListenAddressesError as a ListenError naming each address and why, without
 * its advice to tune `transportManager.faultTolerance` (not a setting of ours). Any other error is
 * returned unchanged.
 */
export function fromLibp2pListenError(err: unknown): unknown {
  if (!(err instanceof Error) || err.name !== 'UnsupportedListenAddressesError') return err
  // The message lists "  <multiaddr>: <error message>" for every address that failed.
  const issues = [...err.message.matchAll(/^\s+(\/\S+): (.*)$/gm)].map(
    ([, addr, reason]) => `listen: cannot listen on ${addr}: ${listenReason(reason)}`,
  )
  return new ListenError(issues.length > 0 ? issues : [`listen: ${err.message.split('\n')[0]}`], {
    cause: err,
  })
}
