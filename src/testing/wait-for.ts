/** Thrown by `waitFor` when its condition is still false at the deadline. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError'
}

export interface WaitForOptions {
  /** @default 15_000 */
  timeoutMs?: number
  /** @default 50 */
  intervalMs?: number
  /** Says what was awaited, for the timeout message. */
  what?: string
  signal?: AbortSignal
}

/**
 * Polls `condition` until it returns a value other than `undefined`/`false`, or the deadline
 * passes. For state that emits no event (peer lists, DHT records, files written by a subprocess).
 */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    options.signal?.throwIfAborted()
    try {
      const value = await condition()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`
      throw new WaitTimeoutError(
        `timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}${cause}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50))
  }
}
