/**
 * `setTimeout` for any delay. Node keeps a delay only up to 2^31 − 1 ms (~24.8 days) and runs a
 * longer one after 1 ms (with a TimeoutOverflowWarning): a deadline taken from a peer's or a
 * config's number must never fire at once for being far. A delay beyond the range is waited in
 * steps of the longest kept delay, each measured again on the monotonic clock.
 */

/** The longest delay `setTimeout` keeps (2^31 − 1 ms, ~24.8 days). */
export const MAX_TIMER_DELAY_MS = 2_147_483_647

export interface LongTimeout {
  /** Stops the timer; `fn` is not called after this. */
  clear(): void
}

export interface LongTimeoutOptions {
  /** Does not keep the process alive (`timeout.unref()`). @default false */
  unref?: boolean
}

/**
 * Calls `fn` once, `delayMs` from now — with a Node timer's precision: within setTimeout's range it
 * is one, which measures from the loop's cached time and may fire a millisecond or so early by
 * `performance.now()`; beyond it, each step re-arms from `performance.now()`. `Infinity` never
 * fires. One object and one Node timer when the delay is in range: the runner arms one per job.
 */
export function setLongTimeout(
  fn: () => void,
  delayMs: number,
  options: LongTimeoutOptions = {},
): LongTimeout {
  return new LongTimer(fn, delayMs, options.unref === true)
}

class LongTimer implements LongTimeout {
  readonly #fn: () => void
  readonly #at: number
  readonly #unref: boolean
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(fn: () => void, delayMs: number, unref: boolean) {
    this.#fn = fn
    this.#at = performance.now() + delayMs
    this.#unref = unref
    this.#arm(delayMs)
  }

  clear(): void {
    clearTimeout(this.#timer)
  }

  #arm(left: number): void {
    this.#timer =
      left > MAX_TIMER_DELAY_MS
        ? setTimeout(() => this.#arm(this.#at - performance.now()), MAX_TIMER_DELAY_MS)
        : setTimeout(this.#fn, Math.max(0, Math.ceil(left)))
    if (this.#unref) this.#timer.unref()
  }
}
