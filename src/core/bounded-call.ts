import { anySignal } from 'any-signal'

/**
 * Runs `fn` with a signal that aborts when any of `signals` does, and unlinks it from them once
 * `fn` settles. Not `AbortSignal.any`: on Node 20 it leaves a WeakRef on every source for the
 * source's whole life (nodejs/node#54614), so a long-lived source (a service's shutdown, an RPC
 * session, an application's signal) combined once per call keeps one per call for ever.
 */
export async function withSignals<T>(
  signals: readonly (AbortSignal | undefined)[],
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signal = anySignal([...signals])
  try {
    return await fn(signal)
  } finally {
    signal.clear()
  }
}

/** Runs `fn` with a signal that aborts when `parent` does or after `timeoutMs` (see `withSignals`). */
export function boundedCall<T>(
  parent: AbortSignal | undefined,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withSignals([parent, AbortSignal.timeout(timeoutMs)], fn)
}
