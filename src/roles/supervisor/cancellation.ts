/**
 * The abort of one dispatch, without an `AbortSignal` unless a part of the path needs one. A
 * dispatch used to make an `AbortController`, join its signal with the supervisor's shutdown signal
 * (`anySignal`: a second controller and a listener on each) and race the call against it
 * (`abortable`: a third listener), and the batcher added its own listener and timer: ~4 % of the
 * supervisor's CPU at load, plus the garbage. A batched job — nearly every job under load — only
 * needs its batcher told when the dispatch is abandoned: a callback in a list; a runner in the
 * same process is raced against it (`race`). Whoever does need a signal (a `runner.execute` call
 * on its own) asks for `signal` and gets one that aborts with the same reason.
 */
export class Cancellation {
  #aborted = false
  #reason: unknown
  #listeners: ((reason: unknown) => void)[] | undefined
  #controller: AbortController | undefined

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): unknown {
    return this.#reason
  }

  /** Aborts once; listeners run in the order they were added, each once. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    const listeners = this.#listeners
    this.#listeners = undefined
    this.#controller?.abort(reason)
    if (listeners !== undefined) for (const listener of listeners) listener(reason)
  }

  /** Calls `listener` when (if ever) this aborts; the returned function takes it back. */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.#aborted) return noop
    if (this.#listeners === undefined) this.#listeners = [listener]
    else this.#listeners.push(listener)
    return () => {
      const listeners = this.#listeners
      if (listeners === undefined) return
      const at = listeners.indexOf(listener)
      if (at >= 0) listeners.splice(at, 1)
    }
  }

  /**
   * Settles with `promise`, or rejects with the reason as soon as this aborts (the work goes on):
   * `abortable` without a signal.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.#aborted) {
      promise.catch(noop)
      return Promise.reject(this.#reason)
    }
    return new Promise<T>((resolve, reject) => {
      const detach = this.onAbort(reject)
      promise.then(
        (value) => {
          detach()
          resolve(value)
        },
        (err: unknown) => {
          detach()
          reject(err)
        },
      )
    })
  }

  /** An `AbortSignal` that aborts with this (made on first use). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }
}

function noop(): void {}
