import { anySignal } from 'any-signal'

/**
 * Runs `fn` with a signal that aborts when `parent` does (a service's shutdown) or after
 * `timeoutMs`, and unlinks it from `parent` once `fn` settles. Not `AbortSignal.any`: on Node 20
 * it leaves a WeakRef per call on the long-lived parent for the parent's whole life
 * (nodejs/node#54614) — one per job on the hot paths that call this.
 */
export async function boundedCall<T>(
  parent: AbortSignal,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signal = anySignal([parent, AbortSignal.timeout(timeoutMs)])
  try {
    return await fn(signal)
  } finally {
    signal.clear()
  }
}
