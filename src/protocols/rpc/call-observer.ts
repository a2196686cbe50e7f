/**
 * What a node learns from every RPC it answers, for metrics and tracing: the method (only names
 * the registry declares — a caller's made-up name is reported as `(unknown)`, so it cannot grow a
 * metric's label set), the transport, how long it took and how it ended.
 */
import type { Caller } from './definitions.js'

/** The method label of a call to a name the registry does not declare. */
export const UNKNOWN_METHOD = '(unknown)'

export interface ObservedCall {
  /** A declared method name, or UNKNOWN_METHOD. */
  method: string
  via: Caller['via']
  durationMs: number
  /** `ok`, or the wire error's name (`UnauthorizedError`, `RunNotFoundError`, `InternalError`…). */
  outcome: string
}

export type CallObserver = (call: ObservedCall) => void

/** A set of observers; one that throws is dropped from that call's report, never fails the call. */
export class CallObservers {
  private readonly observers = new Set<CallObserver>()

  /** Returns the function that removes `observer`. */
  add(observer: CallObserver): () => void {
    this.observers.add(observer)
    return () => this.observers.delete(observer)
  }

  notify(call: ObservedCall): void {
    for (const observer of this.observers) {
      try {
        observer(call)
      } catch {
        // An observer's bug must not turn into the caller's error.
      }
    }
  }

  get size(): number {
    return this.observers.size
  }
}
