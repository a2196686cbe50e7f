/** JSON-RPC 2.0 message shapes and the checks that tell them apart. */
import { InvalidRequestError, type RpcError, type WireError } from './errors.js'

export type RpcId = string | number | null
export type RpcParams = Record<string, unknown> | unknown[]

export interface RpcRequest {
  jsonrpc: '2.0'
  /** Absent for a notification, which gets no response. */
  id?: RpcId
  method: string
  params?: RpcParams
  /**
   * W3C trace context of the caller's span, beside `params` so it is never part of anything
   * signed or validated. Unchecked here: a handler sees it only as a bounded string
   * (CallContext.traceparent) and must treat it as a peer's unverified claim.
   */
  traceparent?: unknown
}

export interface RpcSuccess {
  jsonrpc: '2.0'
  id: RpcId
  result: unknown
}

export interface RpcFailure {
  jsonrpc: '2.0'
  id: RpcId
  error: WireError
}

export type RpcResponse = RpcSuccess | RpcFailure

/**
 * Server → client notification for a subscription: `method` is `<name>.event`,
 * `params: { subscription, result }`.
 */
export interface RpcEventNotification {
  jsonrpc: '2.0'
  method: string
  params: { subscription: string; result: unknown }
}

/** A request checked for shape, or the reason it is not one (with whatever id could be read). */
export type CheckedRequest = { ok: true; request: RpcRequest } | { ok: false; id: RpcId; error: RpcError }

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isId(value: unknown): value is RpcId {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}

/** Check one element of a request (or batch) against JSON-RPC 2.0 §4. */
export function checkRequest(value: unknown): CheckedRequest {
  if (!isRecord(value)) return invalid(null, 'request must be an object')
  const id = isId(value.id) ? value.id : null
  if ('id' in value && !isId(value.id)) return invalid(null, 'id must be a string, a number or null')
  if (value.jsonrpc !== '2.0') return invalid(id, 'jsonrpc must be "2.0"')
  if (typeof value.method !== 'string' || value.method === '') {
    return invalid(id, 'method must be a non-empty string')
  }
  const params = value.params
  if (params !== undefined && !isRecord(params) && !Array.isArray(params)) {
    return invalid(id, 'params must be an object or an array')
  }
  return { ok: true, request: value as unknown as RpcRequest }
}

function invalid(id: RpcId, message: string): CheckedRequest {
  return { ok: false, id, error: new InvalidRequestError(message) }
}

export function success(id: RpcId, result: unknown): RpcSuccess {
  return { jsonrpc: '2.0', id, result: result === undefined ? null : result }
}

export function failure(id: RpcId, error: WireError): RpcFailure {
  return { jsonrpc: '2.0', id, error }
}

/** A message the client reads: a response to one of its calls, or an event notification. */
export type ServerMessage =
  | { kind: 'response'; response: RpcResponse }
  | { kind: 'event'; method: string; subscription: string; result: unknown }
  | { kind: 'unknown' }

export function classifyServerMessage(value: unknown): ServerMessage {
  if (!isRecord(value) || value.jsonrpc !== '2.0') return { kind: 'unknown' }
  if ('id' in value && isId(value.id) && ('result' in value || isRecord(value.error))) {
    return { kind: 'response', response: value as unknown as RpcResponse }
  }
  const params = value.params
  if (typeof value.method === 'string' && isRecord(params) && typeof params.subscription === 'string') {
    return { kind: 'event', method: value.method, subscription: params.subscription, result: params.result }
  }
  return { kind: 'unknown' }
}
