/**
 * The caller's contract, the same over libp2p and HTTP, and the event queue both transports use
 * to turn pushed notifications into an async iterator.
 */
import { SUBSCRIBE_SUFFIX } from './constants.js'
import { TooManyRequestsError } from './errors.js'
import type { RpcParams } from './messages.js'

export interface CallOptions {
  signal?: AbortSignal
  /** Give up (and send `rpc.cancel`) after this long; defaulted when no signal is given either. */
  timeoutMs?: number
  /** W3C trace context sent as the request's `traceparent` member (beside `params`). */
  traceparent?: string
}

export interface SubscribeOptions {
  /** Aborting ends the subscription (the server is told to unsubscribe). */
  signal?: AbortSignal
}

/**
 * Events of one subscription. Iterate with `for await`; leaving the loop, `unsubscribe()` or the
 * signal end it. If the session dies the iterator throws ConnectionClosedError after the events
 * that had arrived.
 */
export interface RpcSubscription<E> extends AsyncIterable<E> {
  /** The server's subscription id; rejects with the server's error if subscribing failed. */
  readonly id: Promise<string>
  unsubscribe(): Promise<void>
}

export interface RpcClient {
  call<T = unknown>(method: string, params?: RpcParams, options?: CallOptions): Promise<T>
  /** `name` is the subscription name (`jobs`) or its subscribe method (`jobs.subscribe`). */
  subscribe<E = unknown>(name: string, params?: RpcParams, options?: SubscribeOptions): RpcSubscription<E>
  close(): Promise<void>
}

/** `jobs.subscribe` → `jobs`. */
export function subscriptionName(name: string): string {
  return name.endsWith(SUBSCRIBE_SUFFIX) ? name.slice(0, -SUBSCRIBE_SUFFIX.length) : name
}

/**
 * Buffers events until the consumer asks for them. Bounded: a consumer that falls more than
 * `maxBuffered` events behind ends the subscription with TooManyRequestsError rather than letting
 * memory grow.
 */
export class EventQueue<E> implements AsyncIterableIterator<E> {
  private readonly buffer: E[] = []
  private readonly maxBuffered: number
  private readonly onReturn: () => Promise<void>
  private waiter: { resolve(r: IteratorResult<E>): void; reject(err: Error): void } | undefined
  private done = false
  private error: Error | undefined

  constructor(maxBuffered: number, onReturn: () => Promise<void>) {
    this.maxBuffered = maxBuffered
    this.onReturn = onReturn
  }

  event(value: unknown): void {
    if (this.done) return
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter.resolve({ value: value as E, done: false })
      return
    }
    this.buffer.push(value as E)
    if (this.buffer.length > this.maxBuffered) {
      this.end(new TooManyRequestsError(`subscriber fell more than ${this.maxBuffered} events behind`))
      this.onReturn().catch(() => {})
    }
  }

  /** No more events; buffered ones are still delivered, then `err` (if any) is thrown once. */
  end(err?: Error): void {
    if (this.done) return
    this.done = true
    this.error = err
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter === undefined) return
    if (err === undefined) waiter.resolve({ value: undefined, done: true })
    else {
      this.error = undefined
      waiter.reject(err)
    }
  }

  next(): Promise<IteratorResult<E>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as E, done: false })
    if (this.done) {
      const err = this.error
      this.error = undefined
      return err === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(err)
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject }
    })
  }

  async return(): Promise<IteratorResult<E>> {
    this.buffer.length = 0
    this.end()
    await this.onReturn()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<E> {
    return this
  }
}
