/**
 * Runs JSON-RPC messages against the registry, the same way for every transport: shape check,
 * method lookup, authorization, params validation, per-peer in-flight cap, timeout and
 * cancellation, error mapping. Transports supply a `DispatchSession` saying who is calling and
 * what the transport can do (subscriptions, cancellation).
 */

import type { Logger } from '@libp2p/interface'
import { abortable } from '../../core/abortable.js'
import { UNKNOWN_METHOD } from './call-observer.js'
import {
  CANCEL_METHOD,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_IN_FLIGHT_PER_PEER,
  MAX_TRACEPARENT_CHARS,
} from './constants.js'
import type { CallContext, Caller } from './definitions.js'
import {
  CallTimeoutError,
  InvalidRequestError,
  MethodNotFoundError,
  RpcError,
  TooManyRequestsError,
  toWireError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedError,
} from './errors.js'
import {
  checkRequest,
  failure,
  isRecord,
  type RpcId,
  type RpcRequest,
  type RpcResponse,
  success,
} from './messages.js'
import type { CompiledEntry, MethodRegistry } from './registry.js'

/** What the dispatcher needs from a transport's session. */
export interface DispatchSession {
  caller: Caller
  /** Calls in flight are counted per key (the peer ID, or the HTTP client's address). */
  limitKey: string
  /** Aborted when the session ends; running handlers see it through their own signal. */
  signal: AbortSignal
  /** Remember a running call so `rpc.cancel` can abort it; returns the forget function. */
  track?(id: RpcId, controller: AbortController): () => void
  /** Abort the tracked call `id`; false when none was running. */
  cancel?(id: RpcId): boolean
  /** Start a subscription and return its id; absent where the transport cannot push. */
  subscribe?(entry: CompiledEntry & { kind: 'subscribe' }, params: Record<string, unknown>): Promise<string>
  unsubscribe?(subscription: string): Promise<boolean>
}

export interface DispatcherInit {
  registry: MethodRegistry
  log: Logger
  /** @default DEFAULT_MAX_IN_FLIGHT_PER_PEER */
  maxInFlightPerPeer?: number
  /** @default DEFAULT_CALL_TIMEOUT_MS */
  callTimeoutMs?: number
}

export type DispatchResult = RpcResponse | RpcResponse[] | undefined

export class Dispatcher {
  readonly registry: MethodRegistry
  readonly maxInFlightPerPeer: number
  readonly callTimeoutMs: number
  private readonly log: Logger
  private readonly inFlight = new Map<string, number>()
  private readonly refused = new Map<string, number>()

  constructor(init: DispatcherInit) {
    this.registry = init.registry
    this.log = init.log
    this.maxInFlightPerPeer = init.maxInFlightPerPeer ?? DEFAULT_MAX_IN_FLIGHT_PER_PEER
    this.callTimeoutMs = init.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
  }

  /** Calls currently running for `limitKey` (all keys when omitted). */
  inFlightCount(limitKey?: string): number {
    if (limitKey !== undefined) return this.inFlight.get(limitKey) ?? 0
    let total = 0
    for (const n of this.inFlight.values()) total += n
    return total
  }

  /** Calls refused by a method's `authorize` (the caller may not call it), by method. */
  refusedCalls(): Record<string, number> {
    return Object.fromEntries(this.refused)
  }

  /** Handle one parsed message (object or batch); resolves to what must be sent back, if anything. */
  async dispatch(message: unknown, session: DispatchSession): Promise<DispatchResult> {
    if (!Array.isArray(message)) return this.dispatchOne(message, session)
    if (message.length === 0) return failure(null, new InvalidRequestError('empty batch').toWire())
    const results = await Promise.all(message.map((m) => this.dispatchOne(m, session)))
    const responses = results.filter((r): r is RpcResponse => r !== undefined)
    return responses.length === 0 ? undefined : responses
  }

  private async dispatchOne(message: unknown, session: DispatchSession): Promise<RpcResponse | undefined> {
    const checked = checkRequest(message)
    if (!checked.ok) return failure(checked.id, checked.error.toWire())
    const request = checked.request
    const isNotification = !('id' in request)
    const id = request.id ?? null
    const started = performance.now()
    const entry = this.registry.get(request.method)
    const observe = (outcome: string): void => {
      if (request.method === CANCEL_METHOD || this.registry.observers.size === 0) return
      this.registry.observers.notify({
        method: entry?.name ?? UNKNOWN_METHOD,
        via: session.caller.via,
        durationMs: performance.now() - started,
        outcome,
      })
    }
    try {
      const result = await this.run(request, id, session)
      observe('ok')
      return isNotification ? undefined : success(id, result)
    } catch (err) {
      if (!(err instanceof RpcError))
        this.log.error('%s from %s failed - %e', request.method, session.limitKey, err)
      const wire = toWireError(err, entry?.errors)
      observe(wireErrorName(wire.data))
      return isNotification ? undefined : failure(id, wire)
    }
  }

  private async run(request: RpcRequest, id: RpcId, session: DispatchSession): Promise<unknown> {
    if (request.method === CANCEL_METHOD) {
      const target = isRecord(request.params) ? request.params.id : undefined
      return session.cancel?.(target === undefined ? null : (target as RpcId)) ?? false
    }
    const entry = this.registry.get(request.method)
    if (entry === undefined) throw new MethodNotFoundError(`method not found: ${request.method}`)
    const authorize = entry.authorize ?? this.registry.authorize
    if (authorize !== undefined && !(await authorize(session.caller, entry.name))) {
      this.refused.set(entry.name, (this.refused.get(entry.name) ?? 0) + 1)
      throw new UnauthorizedError(`not allowed to call ${entry.name}`)
    }
    const params = entry.params(request.params)
    if (session.signal.aborted) throw new UnavailableError()
    switch (entry.kind) {
      case 'call':
        return this.call(entry, params, id, session, request.traceparent)
      case 'subscribe':
        if (session.subscribe === undefined)
          throw new UnsupportedError(`${entry.name} needs a streaming session`)
        return session.subscribe(entry, params)
      case 'unsubscribe':
        if (session.unsubscribe === undefined)
          throw new UnsupportedError(`${entry.name} needs a streaming session`)
        return session.unsubscribe(params.subscription as string)
    }
  }

  private async call(
    entry: CompiledEntry & { kind: 'call' },
    params: Record<string, unknown>,
    id: RpcId,
    session: DispatchSession,
    traceparent: unknown,
  ): Promise<unknown> {
    const group = entry.def.limitGroup
    const release = this.acquire(group === undefined ? session.limitKey : `${session.limitKey}\u0000${group}`)
    const controller = new AbortController()
    const onSessionEnd = (): void => controller.abort(new UnavailableError('session closed'))
    session.signal.addEventListener('abort', onSessionEnd, { once: true })
    const timeoutMs = entry.def.timeoutMs ?? this.callTimeoutMs
    const timer = setTimeout(() => {
      controller.abort(new CallTimeoutError(`${entry.name} timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    const forget = session.track?.(id, controller)
    const ctx: CallContext = { signal: controller.signal, caller: session.caller }
    if (typeof traceparent === 'string' && traceparent.length <= MAX_TRACEPARENT_CHARS)
      ctx.traceparent = traceparent
    // The peer's slot is freed when the handler really settles, even if it ignored its signal
    // and the caller already got Timeout/Cancelled: the work is still using this node.
    const running = Promise.resolve().then(() => entry.def.handler(params as never, ctx))
    running.then(release, release)
    try {
      return await abortable(running, controller.signal)
    } finally {
      clearTimeout(timer)
      session.signal.removeEventListener('abort', onSessionEnd)
      forget?.()
    }
  }

  private acquire(key: string): () => void {
    const current = this.inFlight.get(key) ?? 0
    if (current >= this.maxInFlightPerPeer) {
      throw new TooManyRequestsError(`more than ${this.maxInFlightPerPeer} calls in flight`)
    }
    this.inFlight.set(key, current + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.inFlight.get(key) ?? 1) - 1
      if (left <= 0) this.inFlight.delete(key)
      else this.inFlight.set(key, left)
    }
  }
}

/** The error class name a wire error carries (`data.name`), or `RpcError` for one without. */
function wireErrorName(data: unknown): string {
  const name = isRecord(data) ? data.name : undefined
  return typeof name === 'string' ? name : 'RpcError'
}
