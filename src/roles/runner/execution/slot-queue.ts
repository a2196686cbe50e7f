/**
 * Concurrency slots with a bounded FIFO queue. `acquire` resolves when a slot is free; a waiter whose
 * signal aborts leaves the queue and rejects with the signal's reason.
 */

import { RunnerBusyError } from './errors.js'

interface Waiter {
  resolve: () => void
  reject: (reason: unknown) => void
  signal: AbortSignal
  onAbort: () => void
}

export class SlotQueue {
  private readonly concurrency: number
  private readonly maxQueued: number
  private active = 0
  private readonly waiters: Waiter[] = []

  constructor(concurrency: number, maxQueued: number) {
    this.concurrency = concurrency
    this.maxQueued = maxQueued
  }

  get running(): number {
    return this.active
  }

  get queued(): number {
    return this.waiters.length
  }

  /** Throws `RunnerBusyError` synchronously when neither a slot nor a queue place is free. */
  assertRoom(): void {
    if (this.active >= this.concurrency && this.waiters.length >= this.maxQueued) {
      throw new RunnerBusyError(this.waiters.length)
    }
  }

  /** Takes a free slot at once if there is one (then `release` it); false when all are taken. */
  tryAcquire(): boolean {
    if (this.active >= this.concurrency) return false
    this.active++
    return true
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason)
    if (this.active < this.concurrency) {
      this.active++
      return Promise.resolve()
    }
    this.assertRoom()
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.waiters.indexOf(waiter)
          if (index !== -1) this.waiters.splice(index, 1)
          reject(signal.reason)
        },
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  release(): void {
    const next = this.waiters.shift()
    if (next === undefined) {
      this.active--
      return
    }
    // The slot passes straight to the next waiter.
    next.signal.removeEventListener('abort', next.onAbort)
    next.resolve()
  }
}
